"""Critical values (危急值) with a controlled clock: raised and notified at once, acknowledged by the ordering
side, escalated to the branch's duty doctor only once the acknowledgement is overdue — not at 15:00 exactly,
at the first run after it — and every step logged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from tests.diagnostics.helpers import AT
from tests.diagnostics.services_flow import MINUTE, move, order, publish

from countycare.core.errors import Conflict, InvalidInput, PermissionDenied
from countycare.core.models import AuditEvent, Policy
from countycare.diagnostics import queries, services
from countycare.diagnostics.models import AlertStatus, CriticalAlert, CriticalRule, ExamRequest, ExamStatus, RosterShift

SECOND = dt.timedelta(seconds=1)


def critical_ecg(dx, *, by: str = "village_doctor", at: dt.datetime = AT) -> CriticalAlert:
    """An ECG ordered by `by`, read at `at` with a critical finding the reader confirms."""
    request = move(dx, order(dx, "ECG12", by=by, at=at), ExamStatus.CLAIMED, at=at)
    publish(dx, request, at=at, conclusion="心房颤动伴快速心室率", critical_code="af_rapid")
    return CriticalAlert.objects.get(request=request)


def duty(dx, org: str, key: str, *, start: dt.datetime = AT - dt.timedelta(hours=8),
         end: dt.datetime = AT + dt.timedelta(hours=16)) -> RosterShift:
    return RosterShift.objects.create(organization=dx.orgs[org], centre=None, practitioner=dx.practitioners[key],
                                      starts_at=start, ends_at=end)


def test_a_critical_finding_notifies_the_ordering_clinician_at_once(dx):
    alert = critical_ecg(dx)
    assert alert.status == AlertStatus.OPEN
    assert (alert.notify_organization, alert.notify_practitioner) == (dx.orgs["east_v1"],
                                                                      dx.practitioners["village_doctor"])
    assert alert.raised_at == AT and alert.ack_due_at == AT + 15 * MINUTE
    assert alert.rule.code == "af_rapid" and alert.finding == alert.rule.name
    assert alert.raised_by == dx.practitioners["centre_reader"]
    assert [e.action for e in queries.alert_history(alert)] == ["raised", "notified"]
    assert alert.request.reports.get().critical
    assert list(queries.open_alerts(dx.users["village_doctor"])) == [alert]
    assert list(queries.open_alerts(dx.users["township_doctor"])) == [alert]  # the branch covers its villages
    assert not queries.open_alerts(dx.users["west_doctor"]).exists()
    assert AuditEvent.objects.filter(object_id=str(alert.uuid), action="raise-critical").count() == 1


def test_escalation_waits_until_the_acknowledgement_is_overdue_then_goes_to_the_townships_duty_doctor(dx):
    duty(dx, "east", "township_doctor")
    duty(dx, "west", "west_doctor")
    alert = critical_ecg(dx)
    assert services.escalate_overdue(now=AT + 14 * MINUTE + 59 * SECOND) == 0
    assert services.escalate_overdue(now=AT + 15 * MINUTE) == 0  # due at 9:15:00, still in time then
    assert CriticalAlert.objects.get(pk=alert.pk).status == AlertStatus.OPEN
    assert services.escalate_overdue(now=AT + 15 * MINUTE + SECOND) == 1
    alert.refresh_from_db()
    assert (alert.status, alert.escalated_at, alert.escalated_to) == (
        AlertStatus.ESCALATED, AT + 15 * MINUTE + SECOND, dx.practitioners["township_doctor"])
    last = queries.alert_history(alert)[-1]
    assert last.action == "escalated" and "值班医生" in last.detail and last.practitioner == alert.escalated_to
    assert services.escalate_overdue(now=AT + 30 * MINUTE) == 0  # once only
    assert AuditEvent.objects.filter(object_id=str(alert.uuid), action="escalate-critical").count() == 1


def test_a_branchs_own_request_escalates_to_its_duty_doctor_and_the_shift_must_cover_the_moment(dx):
    duty(dx, "east", "county_specialist", start=AT - dt.timedelta(hours=8), end=AT + 15 * MINUTE + SECOND)
    duty(dx, "east", "township_doctor", start=AT + 15 * MINUTE + SECOND, end=AT + dt.timedelta(hours=8))
    alert = critical_ecg(dx, by="township_doctor")
    assert alert.notify_organization == dx.orgs["east"]
    services.escalate_overdue(now=AT + 15 * MINUTE + SECOND)
    alert.refresh_from_db()
    assert alert.escalated_to == dx.practitioners["township_doctor"]  # the next shift had begun


def test_with_nobody_on_the_roster_the_alert_escalates_to_the_branch_and_says_so(dx):
    alert = critical_ecg(dx)
    assert services.escalate_overdue(now=AT + 16 * MINUTE) == 1
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED and alert.escalated_to is None
    assert "无值班医生" in queries.alert_history(alert)[-1].detail
    assert alert in queries.open_alerts(dx.users["township_doctor"])


def test_acknowledging_stamps_the_request_and_a_second_acknowledgement_is_a_409(dx):
    alert = critical_ecg(dx)
    with pytest.raises(PermissionDenied):
        services.acknowledge_alert(user=dx.users["west_doctor"], alert=alert, now=AT + 5 * MINUTE)
    done = services.acknowledge_alert(user=dx.users["village_doctor"], alert=alert, action_taken="已电话通知患者急诊",
                                      now=AT + 15 * MINUTE)
    assert (done.status, done.acknowledged_at, done.acknowledged_by, done.action_taken) == (
        AlertStatus.ACKNOWLEDGED, AT + 15 * MINUTE, dx.practitioners["village_doctor"], "已电话通知患者急诊")
    assert ExamRequest.objects.get(pk=alert.request_id).acknowledged_at == AT + 15 * MINUTE
    with pytest.raises(Conflict):
        services.acknowledge_alert(user=dx.users["township_doctor"], alert=alert, now=AT + 16 * MINUTE)
    assert services.escalate_overdue(now=AT + dt.timedelta(hours=1)) == 0
    assert [e.action for e in queries.alert_history(alert)] == ["raised", "notified", "acknowledged"]
    assert not queries.open_alerts(dx.users["village_doctor"]).exists()
    assert AuditEvent.objects.filter(object_id=str(alert.uuid), action="acknowledge-critical").count() == 1


def test_the_duty_doctor_it_escalated_to_may_acknowledge_though_not_working_there(dx):
    duty(dx, "east", "county_specialist")  # a lead-hospital specialist on the branch's night duty
    alert = critical_ecg(dx)
    services.escalate_overdue(now=AT + 20 * MINUTE)
    alert.refresh_from_db()
    assert alert.escalated_to == dx.practitioners["county_specialist"]
    assert list(queries.open_alerts(dx.users["county_specialist"])) == [alert]
    services.acknowledge_alert(user=dx.users["county_specialist"], alert=alert, now=AT + 21 * MINUTE)
    assert "超时" in queries.alert_history(alert)[-1].detail  # late, and the history says so


def test_whose_duty_doctor_answers(dx):
    assert services.lead_or_branch_of(dx.orgs["east_v2"]) == dx.orgs["east"]
    assert services.lead_or_branch_of(dx.orgs["west"]) == dx.orgs["west"]
    assert services.lead_or_branch_of(dx.orgs["lead"]) == dx.orgs["lead"]


def test_the_acknowledgement_window_is_a_policy_number_per_community(dx):
    Policy.objects.create(community=dx.community, key="critical_value_ack_minutes", value=Decimal("5"),
                          unit="min", description="本院5分钟")
    alert = critical_ecg(dx)
    assert alert.ack_due_at == AT + 5 * MINUTE
    assert services.escalate_overdue(now=AT + 5 * MINUTE + SECOND) == 1


def test_the_command_escalates_what_is_overdue_now(dx, capsys):
    alert = critical_ecg(dx)  # raised on 2026-03-02: long overdue by the real clock
    call_command("escalatecritical")
    assert "critical values escalated: 1" in capsys.readouterr().out
    assert CriticalAlert.objects.get(pk=alert.pk).status == AlertStatus.ESCALATED


def test_a_critical_value_needs_a_finding_and_a_known_rule(dx):
    request = move(dx, order(dx, "ECG12"), ExamStatus.CLAIMED)
    with pytest.raises(InvalidInput):
        publish(dx, request, critical_code="not-a-rule")
    with pytest.raises(InvalidInput):  # a laboratory rule is not an ECG finding
        publish(dx, request, critical_code="2823-3")
    report = publish(dx, request, critical=True, critical_finding="急性下壁ST段抬高")
    assert CriticalAlert.objects.get(request=request).finding == "急性下壁ST段抬高" and report.critical


def test_a_communitys_own_rule_replaces_the_default_and_can_switch_it_off(dx):
    CriticalRule.objects.create(community=dx.community, code="2823-3", name="血钾（本院）", centre_kind="lab",
                                low=Decimal("3.0"), high=Decimal("6.0"), unit="mmol/L")
    CriticalRule.objects.create(community=dx.community, code="2951-2", name="血钠", centre_kind="lab",
                                low=Decimal("120"), high=Decimal("160"), unit="mmol/L", active=False)
    rules = services.rules_for(dx.community.pk, ["2823-3", "2951-2", "718-7"])
    assert rules["2823-3"].name == "血钾（本院）" and "2951-2" not in rules and rules["718-7"].community is None
    assert services.beyond_limit(rules["2823-3"], Decimal("6.1"), "mmol/L") == "> 6"
    assert services.beyond_limit(rules["718-7"], Decimal("45"), "g/L") == "< 50"
    assert services.beyond_limit(rules["718-7"], Decimal("4.5"), "g/dL") == "< 50"  # converted: 45 g/L
    platelets = services.rules_for(dx.community.pk, ["777-3"])["777-3"]
    assert services.beyond_limit(platelets, Decimal("12"), "×10^9/L") == "< 30"


def test_a_critical_check_compares_in_the_rules_unit_and_never_passes_an_incomparable_unit_as_normal():
    beyond_limit = services.beyond_limit
    troponin = CriticalRule(code="10839-9", name="肌钙蛋白I", centre_kind="lab", high=Decimal("0.5"), unit="ng/mL")
    assert beyond_limit(troponin, Decimal("0.8"), "ug/L") == "> 0.5"  # µg/L is ng/mL
    assert beyond_limit(troponin, Decimal("0.4"), "µg/L") is None
    assert beyond_limit(troponin, Decimal("800"), "pg/mL") == "> 0.5"  # 0.8 ng/mL
    assert "无法" in beyond_limit(troponin, Decimal("0.1"), "IU/L")  # unknown: reported for a person to check
    glucose = CriticalRule(code="2345-7", name="血糖", centre_kind="lab", low=Decimal("2.8"), high=Decimal("22.2"),
                           unit="mmol/L")
    assert beyond_limit(glucose, Decimal("450"), "mg/dL") == "> 22.2"  # 25.0 mmol/L
    assert beyond_limit(glucose, Decimal("90"), "mg/dL") is None  # 5.0 mmol/L
    assert beyond_limit(glucose, Decimal("45"), "mg/dL") == "< 2.8"  # 2.5 mmol/L
    haemoglobin = CriticalRule(code="718-7", name="血红蛋白", centre_kind="lab", low=Decimal("50"), unit="g/L")
    assert beyond_limit(haemoglobin, Decimal("4.2"), "g/dL") == "< 50"
