"""The shipped reference data (exam types, report templates, critical-value rules) loads after migrate and
with `countycare loaddiagnostics`, never overwriting an administrator's edit unless asked; admin edits it and
shows exam requests read-only, without their clinical content; centres are chosen for a requester."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from tests.diagnostics.helpers import EXAM_TYPES
from tests.diagnostics.services_flow import order

from countycare.core.errors import NotFound
from countycare.diagnostics import reference, services
from countycare.diagnostics.models import Centre, CriticalRule, ExamRequest, ExamType, ReportTemplate


def test_the_shipped_files_are_loaded_after_migrate_with_the_codes_the_tests_use(db):
    shipped = {t.code: t for t in ExamType.objects.filter(community__isnull=True)}
    for code, _name, _en, kind, modality, _loinc, days, components in EXAM_TYPES:
        assert (shipped[code].centre_kind, shipped[code].modality, shipped[code].recognition_days) == (
            kind, modality, days)
        assert set(components) <= set(shipped[code].components)
    assert ReportTemplate.objects.filter(community__isnull=True, code="ecg-normal").exists()
    potassium = CriticalRule.objects.get(community__isnull=True, code="2823-3")
    assert (potassium.low, potassium.high, potassium.unit) == (Decimal("2.8"), Decimal("6.2"), "mmol/L")
    assert CriticalRule.objects.filter(community__isnull=True, centre_kind="ecg", code="af_rapid").exists()


def test_every_ecg_flag_that_may_be_critical_has_a_rule_for_the_reader_to_confirm(db):
    from countycare.diagnostics import ecg

    codes = set(CriticalRule.objects.filter(centre_kind="ecg").values_list("code", flat=True))
    assert ecg.CRITICAL_FLAGS <= codes


def test_loading_again_keeps_an_administrators_edit_unless_asked_to_update(db, capsys):
    ExamType.objects.filter(community__isnull=True, code="ECG12").update(recognition_days=3)
    CriticalRule.objects.filter(community__isnull=True, code="2951-2").delete()
    call_command("loaddiagnostics")
    assert "critical-value rules: 1" in capsys.readouterr().out  # the deleted rule is back, nothing else
    assert ExamType.objects.get(community__isnull=True, code="ECG12").recognition_days == 3
    call_command("loaddiagnostics", "--update")
    assert ExamType.objects.get(community__isnull=True, code="ECG12").recognition_days == 7


def test_a_malformed_file_names_its_line_and_loads_nothing(db, tmp_path: Path):
    bad = tmp_path / "rules.csv"
    bad.write_text("code,name,centre_kind,low,high,unit,source\n2823-3,血钾,lab,6.2,2.8,mmol/L,x\n", encoding="utf-8")
    with pytest.raises(reference.ReferenceFileError, match="line 2"):
        reference.read_critical_rules(bad)
    bad.write_text("code,name,centre_kind,low,high,unit,source\nX,某,surgery,1,2,,x\n", encoding="utf-8")
    with pytest.raises(reference.ReferenceFileError, match="unknown centre kind"):
        reference.read_critical_rules(bad)


def test_default_targets_follow_the_documented_defaults():
    assert reference.DEFAULT_TARGETS == {"ecg": (30, 30, 10), "imaging": (1440, 120, 30), "lab": (240, 60, 30),
                                         "pathology": (7200, 2880, 30)}


def test_the_centre_for_an_exam_is_the_lead_hospitals_and_a_branch_lab_serves_its_own(dx):
    village = dx.orgs["east_v1"]
    assert services.centre_for(exam_type=dx.exam_types["ECG12"], organization=village) == dx.centres["ecg"]
    branch_lab = Centre.objects.create(community=dx.community, organization=dx.orgs["east"], kind="lab",
                                       name="东镇分院检验科", target_routine_minutes=240, target_urgent_minutes=60,
                                       target_stat_minutes=30)
    assert services.centre_for(exam_type=dx.exam_types["BMP"], organization=village) == branch_lab
    assert services.centre_for(exam_type=dx.exam_types["BMP"], organization=dx.orgs["west_v1"]) == dx.centres["lab"]
    Centre.objects.filter(kind="pathology").update(active=False)
    with pytest.raises(NotFound):
        services.centre_for(exam_type=dx.exam_types["BIOPSY"], organization=village)
    assert order(dx, "BMP").centre == branch_lab


# --- admin -------------------------------------------------------------------------------------------------

def superuser_client(dx, client):
    user = dx.users["community_admin"]
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_the_reference_data_pages_open_and_requests_are_read_only(dx, client):
    client = superuser_client(dx, client)
    request = order(dx, "ECG12")
    for name in ("centre", "rostershift", "examtype", "reporttemplate", "criticalrule", "examrequest"):
        assert client.get(reverse(f"admin:diagnostics_{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:diagnostics_centre_change", args=[dx.centres["ecg"].pk])).status_code == 200
    page = client.get(reverse("admin:diagnostics_examrequest_change", args=[request.pk])).content.decode()
    assert request.accession_number in page and "胸闷" not in page and "张三" not in page
    model_admin = admin.site._registry[ExamRequest]
    assert not model_admin.has_add_permission(None) and not model_admin.has_change_permission(None)


def test_a_centre_added_without_targets_gets_its_kinds_defaults(dx, client):
    client = superuser_client(dx, client)
    response = client.post(reverse("admin:diagnostics_centre_add"), {
        "community": dx.community.pk, "organization": dx.orgs["west"].pk, "kind": "imaging", "name": "西镇影像室",
        "name_en": "", "quality_controlled": "on", "active": "on", "target_routine_minutes": "",
        "target_urgent_minutes": "", "target_stat_minutes": "",
        "readers-TOTAL_FORMS": "0", "readers-INITIAL_FORMS": "0", "readers-MIN_NUM_FORMS": "0",
        "readers-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 302, response.content.decode()[:2000]
    centre = Centre.objects.get(name="西镇影像室")
    assert (centre.target_routine_minutes, centre.target_urgent_minutes, centre.target_stat_minutes) == (
        1440, 120, 30)
