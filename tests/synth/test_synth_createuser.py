"""`countycare createuser`: organisation by division code, id or UUID; clear errors for the rest."""

import pytest
from django.core.management import CommandError, call_command

from countycare.accounts.models import User
from countycare.core.models import AuditEvent

STRONG = "Strong-pass-2026"


def create(**options):
    call_command("createuser", **{"password": STRONG, **options})
    return User.objects.get(username=options["username"])


def test_it_creates_a_user_at_a_branch_by_division_code(county):
    user = create(username="wang", role="township_doctor", organization="330122101")
    assert user.organization == county.orgs["east"]
    assert user.community == county.community
    assert user.check_password(STRONG)
    assert AuditEvent.objects.filter(action="create", object_type="User", object_id=str(user.pk)).exists()


def test_it_finds_the_organisation_by_id_and_by_uuid(county):
    by_id = create(username="li", role="county_specialist", organization=str(county.orgs["lead"].pk))
    by_uuid = create(username="zhao", role="cdc_officer", organization=str(county.orgs["cdc"].uuid))
    assert by_id.organization == county.orgs["lead"]
    assert by_uuid.organization == county.orgs["cdc"]


def test_it_links_a_practitioner_and_a_resident(county):
    doctor = county.practitioners["west_doctor"]
    user = create(username="chen", role="township_doctor", organization="330122102", practitioner=str(doctor.pk))
    assert user.practitioner == doctor
    resident = county.residents["zhang_san"]
    own = create(username="zhangsan", role="resident", organization="330122101201",
                 resident=resident.national_id)
    assert own.resident == resident


def test_an_ambiguous_division_code_lists_the_matches(county):
    with pytest.raises(CommandError) as error:
        create(username="wang", role="county_specialist", organization="330122")
    message = str(error.value)
    for key in ("lead", "cdc", "mch"):
        assert f"id {county.orgs[key].pk}" in message
    assert not User.objects.filter(username="wang").exists()


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"role": "nurse", "organization": "330122101"}, "unknown role"),
        ({"role": "township_doctor", "organization": "999999"}, "no organisation"),
        ({"role": "township_doctor", "organization": "330122101", "password": "123"}, "password rejected"),
        ({"role": "resident", "organization": "330122101"}, "--resident"),
        ({"role": "township_doctor", "organization": "330122101", "practitioner": "987654"}, "no practitioner"),
    ],
)
def test_it_refuses_with_a_clear_message(county, options, expected):
    with pytest.raises(CommandError, match=expected):
        call_command("createuser", username="wang", **{"password": STRONG, **options})
    assert not User.objects.filter(username="wang").exists()


def test_an_existing_username_is_refused(county):
    with pytest.raises(CommandError, match="already exists"):
        create(username="township_doctor", role="township_doctor", organization="330122101")
