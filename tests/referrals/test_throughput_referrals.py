"""The referral API's hot path stays lean: statements per create and accept, and a referral's detail read with
its optional relations loaded only when it has them."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from tests.referrals.helpers import slot, up

from countycare.accounts.tokens import issue_token
from countycare.core import audit
from countycare.referrals import queries, services
from countycare.referrals.models import Referral
from countycare.registry.models import Department

# Statements of one request, token check to commit. PostgreSQL: create = token, idempotency lookup, resident,
# receiver, covered organisations, ICD-10, policy, BEGIN, referral, care access, event, stored answer (no
# savepoint: a duplicate key fails the whole write), audit, COMMIT; accept = token, referral, covered
# organisations, slot, BEGIN, status, event, place, booking, link, audit, COMMIT. SQLite reads the chain head in
# a statement of its own; with server-side binding (prepared statements) the audit's lock is one of its own.
CREATE_BUDGET = 14
ACCEPT_BUDGET = 12


def _post(client: Client, token: str, path: str, body: dict, **headers: str):
    return client.post(path, json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}", **headers})


def test_create_and_accept_through_the_api_within_their_statement_budget(world):
    sender, receiver = issue_token(world.users["village_doctor"])[0], issue_token(world.users["county_specialist"])[0]
    clinic = slot(world, capacity=10)
    client = Client()
    body = {"resident": str(world.residents["zhang_san"].uuid), "kind": "up",
            "to_organization": str(world.orgs["lead"].uuid), "reason": "胸痛2小时",
            "diagnoses": [{"code": "I21", "primary": True}]}
    _post(client, sender, "/api/referrals", body)  # tokens used once: their last use recorded
    client.get("/api/referrals/inbox", headers={"Authorization": f"Bearer {receiver}"})
    server_binding = connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    extra = 1 if connection.vendor == "sqlite" or server_binding else 0
    with CaptureQueriesContext(connection) as created:
        response = _post(client, sender, "/api/referrals", body, **{"Idempotency-Key": "k-1"})
    assert response.status_code == 201, response.content
    with CaptureQueriesContext(connection) as accepted:
        answer = _post(client, receiver, f"/api/referrals/{response.json()['uuid']}/accept",
                       {"version": 1, "slot": str(clinic.uuid)})
    assert answer.status_code == 200, answer.content
    assert answer.json()["booking"]["slot"] == str(clinic.uuid)
    assert answer.json()["from_practitioner"]["name"] == world.practitioners["village_doctor"].name
    assert len(created.captured_queries) <= CREATE_BUDGET + extra, [q["sql"][:80] for q in created.captured_queries]
    assert len(accepted.captured_queries) <= ACCEPT_BUDGET + extra, [q["sql"][:80] for q in accepted.captured_queries]
    assert audit.verify_chain().ok


@pytest.fixture
def full_referral(world):
    """An accepted referral with every optional relation: departments both ends, a named receiving doctor, a
    booking and a bed."""
    lead_dept = Department.objects.get(organization=world.orgs["lead"])
    east_dept = Department.objects.get(organization=world.orgs["east"])
    bed = slot(world, kind="bed", capacity=4, department=lead_dept)
    clinic = slot(world, capacity=10)
    referral = up(world, by="township_doctor", resident="li_si", urgent=True, to_department=lead_dept,
                  from_department=east_dept, to_practitioner=world.practitioners["county_specialist"])
    assert referral.bed_booking_id is not None and bed.pk
    return services.transition(user=world.users["county_specialist"], referral=referral, action="accept",
                               expected_version=1, slot=clinic, channel="web")


def test_the_detail_read_loads_what_the_referral_has_and_nothing_it_lacks(world, full_referral):
    found = Referral.objects.filter(pk=full_referral.pk)
    with CaptureQueriesContext(connection) as reading:
        referral = queries.detail(found)
    assert len(reading.captured_queries) == 4  # the referral, doctors, departments, bookings with their slots
    with CaptureQueriesContext(connection) as using:
        names = (referral.resident.name, referral.from_organization.name, referral.to_organization.name,
                 referral.from_practitioner.name, referral.to_practitioner.name, referral.from_department.name,
                 referral.to_department.name, referral.booking.slot.kind, referral.bed_booking.slot.kind)
    assert not using.captured_queries
    plain = Referral.objects.get(pk=full_referral.pk)
    assert names == (plain.resident.name, plain.from_organization.name, plain.to_organization.name,
                     plain.from_practitioner.name, plain.to_practitioner.name, plain.from_department.name,
                     plain.to_department.name, plain.booking.slot.kind, plain.bed_booking.slot.kind)

    bare = up(world)  # no departments, doctor named, bookings
    with CaptureQueriesContext(connection) as reading:
        referral = queries.detail(Referral.objects.filter(pk=bare.pk))
        assert referral.to_practitioner is None and referral.booking is None and referral.to_department is None
    assert len(reading.captured_queries) == 1
    assert queries.detail(Referral.objects.filter(pk=-1)) is None
