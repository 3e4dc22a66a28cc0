"""The catalogue is edited in admin; capacity is shown there but changed only through the services; referrals
and care plans (patient data) are not in admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from countycare.referrals.models import CareAccess, CarePlan, CatalogueEntry, Referral, Slot


def superuser_client(world, client):
    user = world.users["community_admin"]
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_patient_data_of_referrals_is_not_in_admin():
    assert admin.site.is_registered(CatalogueEntry) and admin.site.is_registered(Slot)
    for model in (Referral, CarePlan, CareAccess):
        assert not admin.site.is_registered(model)


def test_the_catalogue_list_filters_by_list_and_level(world, client):
    client = superuser_client(world, client)
    url = reverse("admin:referrals_catalogueentry_changelist")
    response = client.get(url, {"list_name__exact": "out_of_county"})
    assert response.status_code == 200
    assert "白血病" in response.content.decode() and "原发性高血压" not in response.content.decode()
    assert client.get(url, {"township_may_treat__exact": "1", "q": "I10"}).status_code == 200


def test_an_administrator_edits_an_entrys_criteria(world, client):
    client = superuser_client(world, client)
    entry = CatalogueEntry.objects.get(code_start="I10", community__isnull=True)
    url = reverse("admin:referrals_catalogueentry_change", args=[entry.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"up_criteria": "血压≥170/105 mmHg转县医院", "community": ""})
    for flag in ("village_may_treat", "township_may_treat", "county_may_treat", "down_referable", "active"):
        if not data.get(flag):
            data.pop(flag, None)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert CatalogueEntry.objects.get(pk=entry.pk).up_criteria == "血压≥170/105 mmHg转县医院"


def test_slots_are_read_only_in_admin(world, client):
    client = superuser_client(world, client)
    assert client.get(reverse("admin:referrals_slot_changelist")).status_code == 200
    assert client.get(reverse("admin:referrals_slot_add")).status_code == 403
