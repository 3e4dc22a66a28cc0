"""Generated bodies for the diagnostics creates (an exam order, lab results): every answer is a 2xx or a 4xx
OperationOutcome, never a 500; a refusal stores nothing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.diagnostics.api_fhir_helpers import client, request_exam
from tests.diagnostics.test_fhir_diagnostics_create import exam_body, lab_body, snapshot
from tests.fhir.conftest import valid

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
SERVICE_REQUEST = ["status", "intent", "category", "code", "priority", "subject", "reasonCode", "requester",
                   "encounter", "performer", "extension", "occurrenceDateTime", "note"]
DIAGNOSTIC_REPORT = ["status", "category", "code", "subject", "basedOn", "result", "contained", "effectiveDateTime",
                     "resultsInterpreter", "issued", "conclusion"]
CONTAINED = ["contained.status", "contained.code", "contained.valueQuantity", "contained.referenceRange",
             "contained.interpretation", "contained.effectiveDateTime", "contained.valueString", "contained.id"]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def check(response, before):
    assert response.status_code in (201, 400, 403, 404, 409, 422), response.content.decode()[:500]
    valid(response.json())
    if response.status_code != 201:
        assert snapshot() == before


@SETTINGS
@given(element=st.sampled_from(SERVICE_REQUEST), value=JSON)
def test_a_generated_exam_order_never_fails(dx_once, element, value):
    dx = dx_once
    before = snapshot()
    check(client(dx, "village_doctor").fhir_post("/fhir/ServiceRequest", exam_body(dx) | {element: value}), before)


@SETTINGS
@given(element=st.sampled_from(DIAGNOSTIC_REPORT + CONTAINED), value=JSON, index=st.integers(0, 1))
def test_generated_lab_results_never_fail(dx_once, element, value, index):
    dx = dx_once
    body = lab_body(dx.lab_exam)
    if element in CONTAINED:  # an element of one of the contained Observations
        body["contained"][index][element.removeprefix("contained.")] = value
    else:
        body[element] = value
    before = snapshot()
    check(client(dx, "centre_reader").fhir_post("/fhir/DiagnosticReport", body), before)


@pytest.fixture
def dx_once(dx):
    dx.lab_exam = request_exam(dx, "BMP")
    return dx
