"""One timeline per resident across every member organisation: ordered, paged, audited, scoped, and read with a
fixed number of queries however long the history."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.records.record_helpers import admission, chronic_visit, days_ago, visit

from countycare.core.errors import NotFound, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.records import queries, services
from countycare.records.models import Encounter, EncounterStatus


@pytest.fixture
def history(county, posted_specialist):
    """张三 seen at his village clinic, at the east branch, admitted to the lead hospital, then a home reading."""
    village = chronic_visit(county, "village_doctor", "zhang_san", "I10", days=30,
                            vitals=[{"code": "8480-6", "value": 158}, {"code": "8462-4", "value": 98}])
    branch = chronic_visit(county, "township_doctor", "zhang_san", "E11.9", days=10)
    stay = admission(county, days=5)
    services.record_observations(user=county.users["village_doctor"], resident=county.residents["zhang_san"],
                                 observations=[{"code": "14771-0", "value": "8.2", "effective_at": days_ago(2, 7)}],
                                 channel="web")
    return {"village": village, "branch": branch, "stay": stay}


def lines(items):
    return [(item.kind, item.title) for item in items]


def test_the_timeline_holds_every_organisation_newest_first(county, history):
    items = queries.timeline(county.users["township_doctor"], county.residents["zhang_san"], channel="web")
    assert [i.at for i in items] == sorted((i.at for i in items), reverse=True)
    assert lines(items) == [
        ("observation", "空腹血糖"),
        ("encounter", "住院"),
        ("diagnosis", "I21.9 急性心肌梗死，未特指"),
        ("diagnosis", "I10 特发性（原发性）高血压"),
        ("problem", "I21.9 急性心肌梗死，未特指"),
        ("encounter", "门诊"),
        ("diagnosis", "E11.9 2型糖尿病不伴有并发症"),
        ("problem", "E11.9 2型糖尿病不伴有并发症"),
        ("encounter", "门诊"),
        ("diagnosis", "I10 特发性（原发性）高血压"),
        ("problem", "I10 特发性（原发性）高血压"),
    ]
    encounters = [i for i in items if i.kind == "encounter"]
    assert [i.organization for i in encounters] == ["城关县人民医院 心内科", "城关县人民医院东镇分院", "东村卫生室"]
    assert [i.obj for i in encounters] == [history["stay"], history["branch"], history["village"]]


def test_vital_signs_are_shown_with_their_visit_and_a_stay_with_its_ward(county, history):
    items = queries.timeline(county.users["township_doctor"], county.residents["zhang_san"], channel="web")
    village_visit = next(i for i in items if i.obj == history["village"])
    assert "158/98 mmHg" in village_visit.detail
    stay = next(i for i in items if i.obj == history["stay"])
    assert "心内科3病区12床" in stay.detail and "胸痛" in stay.detail
    reading = items[0]
    assert reading.detail == "8.2 mmol/L" and reading.organization == "东村卫生室"


def test_the_timeline_pages_back_with_before_and_limit(county, history):
    doctor, resident = county.users["township_doctor"], county.residents["zhang_san"]
    first = queries.timeline(doctor, resident, channel="web", limit=3)
    assert len(first) == 3
    older = queries.timeline(doctor, resident, channel="web", before=history["stay"].started_at)
    assert all(i.at < history["stay"].started_at for i in older)
    assert lines(older)[0] == ("encounter", "门诊") and len(older) == 6


def test_an_encounter_entered_in_error_is_left_out(county, history):
    Encounter.objects.filter(pk=history["branch"].pk).update(status=EncounterStatus.CANCELLED)
    items = queries.timeline(county.users["township_doctor"], county.residents["zhang_san"], channel="web")
    assert history["branch"] not in [i.obj for i in items]
    assert "E11.9 2型糖尿病不伴有并发症" not in [i.title for i in items if i.kind == "diagnosis"]


def test_upper_apps_add_their_items_through_a_registered_source(county, history, monkeypatch):
    seen = []

    def referrals(resident, before, limit):
        seen.append((resident, before, limit))
        return [queries.TimelineItem(days_ago(3), "referral", "上转至城关县人民医院", "急诊绿色通道", "东镇分院")]

    monkeypatch.setattr(queries, "_sources", [])
    queries.register_timeline_source(referrals)
    queries.register_timeline_source(referrals)  # once only
    items = queries.timeline(county.users["township_doctor"], county.residents["zhang_san"], channel="web", limit=50)
    assert seen == [(county.residents["zhang_san"], None, 50)]
    assert lines(items)[1] == ("referral", "上转至城关县人民医院")


def test_each_read_of_a_timeline_is_audited(county, history):
    resident = county.residents["zhang_san"]
    items = queries.timeline(county.users["township_doctor"], resident, channel="api", reason="follow-up")
    event = AuditEvent.objects.get(object_type="Timeline")
    assert (event.action, event.object_id, event.resident_id) == ("read", str(resident.uuid), str(resident.uuid))
    assert (event.channel, event.reason, event.detail["items"]) == ("api", "follow-up", len(items))


def test_a_doctor_without_the_resident_in_scope_gets_not_found(county, history):
    with pytest.raises(NotFound):
        queries.timeline(county.users["west_doctor"], county.residents["zhang_san"], channel="web")
    assert not AuditEvent.objects.filter(object_type="Timeline").exists()


def test_the_bureau_gets_no_individual_timeline(county, history):
    with pytest.raises(PermissionDenied):
        queries.timeline(county.users["bureau_viewer"], county.residents["zhang_san"], channel="web")


def test_a_resident_reads_their_own_timeline_and_nobody_elses(county):
    visit(county, "west_doctor", "resident_self")
    me = county.users["resident"]
    items = queries.timeline(me, county.residents["resident_self"], channel="web")
    assert ("encounter", "门诊") in lines(items)
    with pytest.raises(NotFound):
        queries.timeline(me, county.residents["wang_wu"], channel="web")


def test_a_community_administrator_reads_any_timeline_of_the_community(county, history):
    assert queries.timeline(county.users["community_admin"], county.residents["zhang_san"], channel="web")


def count_queries(user, resident):
    with CaptureQueriesContext(connection) as captured:
        queries.timeline(user, resident, channel="web")
    return len(captured)


def test_the_timeline_takes_the_same_few_queries_for_a_short_or_a_long_history(county, posted_specialist):
    doctor = county.users["township_doctor"]
    chronic_visit(county, "village_doctor", "zhang_san", "I10", days=200)
    chronic_visit(county, "township_doctor", "li_si", "I10", days=200)
    short = count_queries(doctor, county.residents["zhang_san"])
    for days in range(2, 150, 6):  # a year of monthly-ish follow-ups, an admission, results
        chronic_visit(county, "township_doctor", "li_si", "I10", "E11.9", "E78.5", days=days)
    admission(county, resident="li_si", days=160)
    services.record_observations(user=doctor, resident=county.residents["li_si"], channel="web",
                                 observations=[{"code": "15074-8", "value": 9}])
    long = count_queries(doctor, county.residents["li_si"])
    assert short == long
    # scope (postings, villages, care access, the resident), five reads, the registered sources' own, the audit
    assert long <= 20


def test_old_history_beyond_the_limit_is_not_read(county):
    for days in range(1, 40):
        chronic_visit(county, "village_doctor", "zhang_san", "I10", days=days)
    items = queries.timeline(county.users["village_doctor"], county.residents["zhang_san"], channel="web", limit=10)
    assert len(items) == 10 and items[0].at > timezone.now() - dt.timedelta(days=2)


def test_a_later_diagnosis_of_a_visit_beyond_the_page_comes_with_its_encounter(county, posted_specialist,
                                                                                django_assert_num_queries):
    stay = admission(county, days=9)
    for days in (3, 2, 1):
        chronic_visit(county, "township_doctor", "zhang_san", "J06.9", days=days)
    services.add_diagnoses(user=county.users["county_specialist"], encounter=stay,
                           diagnoses=[{"code": "I50.9"}], channel="web")  # recorded now, on a 9-day-old stay
    items = queries.timeline(county.users["township_doctor"], county.residents["zhang_san"], channel="web", limit=3)
    assert lines(items)[0] == ("diagnosis", "I50.9 心力衰竭，未特指")
    assert items[0].organization == "城关县人民医院"
    with django_assert_num_queries(0):
        assert items[0].obj.encounter.uuid == stay.uuid
