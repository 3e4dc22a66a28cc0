"""Who sees what: a centre's readers see the record of a patient whose exam was sent to their centre for
`exam_record_access_days` after the request (and while it is open); the ordering clinic sees its patients by
the registry's rules; outside scope a request is not there at all."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from tests.diagnostics.services_flow import order

from countycare.core.errors import InvalidInput, NotFound, PermissionDenied
from countycare.core.models import Policy
from countycare.diagnostics import queries, services
from countycare.diagnostics.models import CentreReader
from countycare.registry import queries as registry_queries

DAY = dt.timedelta(days=1)


def sees(dx, key: str, resident: str = "zhang_san") -> bool:
    return registry_queries.visible_residents(dx.users[key]).filter(pk=dx.residents[resident].pk).exists()


def lab_done(dx, days_ago: int, *, resident: str = "zhang_san"):
    """A lab request made and reported `days_ago` days ago."""
    at = timezone.now() - days_ago * DAY
    request = order(dx, "BMP", at=at, resident=resident)
    services.publish_lab_results(request=request, now=at, results=[{
        "code": "2823-3", "display": "钾", "value": Decimal("4.0"), "unit": "mmol/L", "reference_low": None,
        "reference_high": None, "interpretation": "", "observed_at": at}])
    return request


def test_a_reader_sees_the_patient_of_an_exam_sent_to_the_centre(dx):
    assert not sees(dx, "centre_reader")
    request = order(dx, "ECG12", at=timezone.now())
    assert sees(dx, "centre_reader")
    assert not sees(dx, "centre_reader", "wang_wu")
    assert queries.get_request(dx.users["centre_reader"], request.uuid, channel="web") == request
    assert list(queries.visible_requests(dx.users["centre_reader"])) == [request]


@pytest.mark.parametrize(("days_ago", "visible"), [(29, True), (31, False)])
def test_the_access_lasts_exam_record_access_days_after_the_request(dx, days_ago, visible):
    lab_done(dx, days_ago)
    assert sees(dx, "centre_reader") is visible


def test_an_open_request_keeps_the_access_however_old(dx):
    order(dx, "BMP", at=timezone.now() - 60 * DAY)
    assert sees(dx, "centre_reader")


def test_the_access_days_are_a_policy_number(dx):
    Policy.objects.create(community=dx.community, key="exam_record_access_days", value=Decimal("7"), unit="days",
                          description="本县7天")
    lab_done(dx, 10)
    assert not sees(dx, "centre_reader")


def test_a_reader_no_longer_active_at_the_centre_loses_the_access(dx):
    order(dx, "ECG12", at=timezone.now())
    CentreReader.objects.filter(practitioner=dx.practitioners["centre_reader"]).update(active=False)
    assert not sees(dx, "centre_reader")
    assert not queries.visible_requests(dx.users["centre_reader"]).exists()


def test_the_ordering_clinic_and_its_branch_see_the_request_and_others_do_not(dx):
    request = order(dx, "ECG12", at=timezone.now())
    for key in ("village_doctor", "township_doctor"):
        assert queries.get_request(dx.users[key], request.uuid, channel="web") == request
    assert list(queries.requested_by(dx.users["township_doctor"])) == [request]
    assert not queries.requested_by(dx.users["west_doctor"]).exists()
    with pytest.raises(NotFound):
        queries.get_request(dx.users["west_doctor"], request.uuid, channel="web")
    with pytest.raises(PermissionDenied):
        queries.get_request(dx.users["bureau_viewer"], request.uuid, channel="web")
    with pytest.raises(InvalidInput) as malformed:
        queries.get_request(dx.users["village_doctor"], "not-a-uuid", channel="web")
    assert malformed.value.status == 422


def test_another_community_sees_nothing(dx, other_community):
    from countycare.accounts.models import User

    request = order(dx, "ECG12", at=timezone.now())
    outsider = User.objects.create_user(username="outsider", password="x-Test-pass-2026", role="county_specialist",
                                        community=other_community["organization"].community,
                                        organization=other_community["organization"],
                                        practitioner=other_community["practitioner"])
    with pytest.raises(NotFound):
        queries.get_request(outsider, request.uuid, channel="api")
    assert not queries.visible_requests(outsider).exists()
