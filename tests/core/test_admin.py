"""Reference data is managed in Django admin; patient data is not exposed there."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from countycare.core.models import AuditEvent, CodeSystem, Policy
from countycare.registry.models import Department, Organization, Resident


def test_reference_data_is_registered_and_residents_are_not():
    for model in (Organization, Department, CodeSystem, Policy, AuditEvent):
        assert admin.site.is_registered(model), model
    assert not admin.site.is_registered(Resident)


@pytest.mark.parametrize("model", ["registry/organization", "registry/practitioner", "core/policy",
                                   "core/codesystem", "core/auditevent", "accounts/user"])
def test_a_superuser_can_open_each_reference_list(county, client, model):
    from django.core.management import call_command

    call_command("loadcodes")
    admin_user = county.users["community_admin"]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    app, name = model.split("/")
    response = client.get(reverse(f"admin:{app}_{name}_changelist"))
    assert response.status_code == 200


def test_audit_events_cannot_be_edited_in_admin(county, client):
    from countycare.core import audit

    event = audit.record(audit.Actor.system(), "read", "Resident", "x")
    admin_user = county.users["community_admin"]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(reverse("admin:core_auditevent_change", args=[event.pk]), {"reason": "edited"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


def test_loadcodes_publishes_every_organisation_type_with_chinese_names(db):
    from django.core.management import call_command

    call_command("loadcodes")
    system = CodeSystem.objects.get(url__endswith="/organization-type")
    codes = dict(system.concepts.values_list("code", "display_en"))
    assert set(codes) == {"lead_hospital", "township_centre", "community_centre", "village_clinic", "cdc", "mch",
                          "tcm_hospital", "private_clinic", "partner_hospital"}
    assert Policy.objects.get(key="reserved_slot_share", community__isnull=True).value == Decimal("0.20")

