"""The generated county's shared diagnostic centres and their year of exams: centres with targets, readers and a
roster, exams of every kind at plausible rates, acquisitions the platform can process (WFDB that parses, lab
results in LOINC), reports for most, critical values acknowledged or escalated, recognition, and a worklist
history that keeps the platform's rules (claims by readers on duty, one item at a time, events that chain)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest
from django.db.models import Count, F, Q

from countycare.core.codes import OrganizationType
from countycare.diagnostics import ecg, lab
from countycare.diagnostics.models import (
    Acquisition,
    Attachment,
    Centre,
    CentreReader,
    CriticalAlert,
    EcgPreRead,
    ExamEvent,
    ExamRequest,
    RecognitionCheck,
    Report,
    RosterShift,
)
from countycare.records.models import Encounter, Observation
from countycare.registry.models import Organization
from countycare.synth.demo import demo_reader

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 6, 30)  # as in tests/synth/conftest.py
NOW = dt.datetime.combine(AS_OF, dt.time(0, 0), tzinfo=dt.UTC)  # 08:00 in the county: "now" of the year
TARGETS = {"ecg": (30, 30, 10), "imaging": (1440, 120, 30), "lab": (240, 60, 30), "pathology": (7200, 2880, 30)}


def exams(county):
    return ExamRequest.objects.filter(community=county.community)


def test_the_lead_hospital_has_four_centres_with_their_targets_readers_and_the_demo_reader(county_with_a_year):
    community = county_with_a_year.community
    lead = Organization.objects.get(community=community, org_type=OrganizationType.LEAD_HOSPITAL)
    centres = {c.kind: c for c in Centre.objects.filter(community=community)}
    assert set(centres) == set(TARGETS)
    for kind, centre in centres.items():
        assert centre.organization == lead and centre.quality_controlled
        assert (centre.target_routine_minutes, centre.target_urgent_minutes, centre.target_stat_minutes) == \
            TARGETS[kind]
        readers = CentreReader.objects.filter(centre=centre)
        assert readers.count() >= 2 and readers.filter(senior=True).exists()
    practitioner, _ = demo_reader(community)
    assert set(CentreReader.objects.filter(practitioner=practitioner).values_list("centre__kind", flat=True)) >= {
        "ecg", "imaging"}


def test_the_roster_covers_the_year_day_and_night_and_every_branch_has_a_duty_doctor(county_with_a_year):
    community = county_with_a_year.community
    centres = {c.kind: c for c in Centre.objects.filter(community=community)}
    for days_back in (1, 45, 120, 200, 364):
        day = AS_OF - dt.timedelta(days=days_back)
        for hour in (2, 10, 15, 23):  # local hours
            at = dt.datetime.combine(day, dt.time(hour, 0), tzinfo=dt.UTC) - dt.timedelta(hours=8)
            for kind in ("ecg", "imaging", "lab"):
                assert RosterShift.objects.filter(centre=centres[kind], starts_at__lte=at, ends_at__gt=at).exists(), \
                    (kind, at)
            if day.weekday() < 5 and 8 <= hour < 18:
                assert RosterShift.objects.filter(centre=centres["pathology"], starts_at__lte=at,
                                                  ends_at__gt=at).exists()
    branches = Organization.objects.filter(community=community, org_type__in=(
        OrganizationType.TOWNSHIP_CENTRE, OrganizationType.COMMUNITY_CENTRE, OrganizationType.LEAD_HOSPITAL))
    for branch in branches:
        for hour in (3, 11, 20):
            at = NOW - dt.timedelta(days=30) + dt.timedelta(hours=hour)
            assert RosterShift.objects.filter(organization=branch, centre__isnull=True, starts_at__lte=at,
                                              ends_at__gt=at).exists(), (branch.name, at)
    readers = set(CentreReader.objects.filter(centre__community=community).values_list(
        "centre_id", "practitioner_id"))
    rostered = set(RosterShift.objects.filter(centre__community=community).values_list(
        "centre_id", "practitioner_id").distinct())
    assert rostered <= readers


def test_exams_of_every_kind_at_plausible_rates(county_with_a_year):
    county = county_with_a_year
    residents = county.people.residents
    by_type = Counter(exams(county).values_list("exam_type__code", flat=True))
    for code in ("ECG12", "DR-CHEST", "DR-LIMB", "CT-HEAD", "US-ABD", "BMP", "CBC", "TNI", "HBA1C", "BIOPSY"):
        assert by_type[code] > 0, code
    per_thousand = {code: n * 1000 / residents for code, n in by_type.items()}
    assert 200 <= per_thousand["ECG12"] <= 600  # ~1 ECG per 1,000 residents a day
    lab_ = sum(n for code, n in by_type.items() if code in ("BMP", "CBC", "TNI", "GLU", "HBA1C"))
    imaging = sum(n for code, n in by_type.items() if code in ("DR-CHEST", "DR-LIMB", "CT-HEAD", "CT-CHEST",
                                                                 "US-ABD"))
    assert lab_ > imaging > by_type["BIOPSY"] + by_type["FROZEN"]
    assert by_type["CT-HEAD"] < by_type["DR-CHEST"]


def test_every_exam_belongs_to_an_encounter_of_its_patient_and_comes_after_it(county_with_a_year):
    qs = exams(county_with_a_year)
    assert not qs.filter(encounter__isnull=True).exists()
    assert not qs.exclude(encounter__resident_id=F("resident_id")).exists()
    first, last = NOW - dt.timedelta(days=366), NOW
    assert not qs.filter(Q(requested_at__lt=first) | Q(requested_at__gt=last)).exists()
    for requested, started in qs.values_list("requested_at", "encounter__started_at")[:2000]:
        assert requested >= started
    assert not Encounter.objects.filter(exam_requests__isnull=False, source="claim").exists()


def test_statuses_and_timestamps_follow_the_workflow(county_with_a_year):
    qs = exams(county_with_a_year)
    statuses = Counter(qs.values_list("status", flat=True))
    total = sum(statuses.values())
    assert statuses["published"] / total > 0.9  # reports for most
    assert statuses["cancelled"] > 0
    assert not qs.filter(status="published", reported_at__isnull=True).exists()
    assert not qs.filter(reported_at__lt=F("acquired_at")).exists()
    assert not qs.filter(acquired_at__lt=F("requested_at")).exists()
    assert not qs.filter(status="claimed", claimed_by__isnull=True).exists()
    assert not qs.filter(status="requested", acquired_at__isnull=False).exists()
    assert not qs.filter(reported_at__gt=NOW).exists() and not qs.filter(acquired_at__gt=NOW).exists()


def test_events_chain_from_request_to_the_current_status_and_count_the_versions(county_with_a_year):
    events = defaultdict(list)
    for request, action, source, target, at in ExamEvent.objects.filter(
            request__community=county_with_a_year.community).order_by("at", "id").values_list(
            "request_id", "action", "from_status", "to_status", "at"):
        events[request].append((action, source, target, at))
    for request, status, version in exams(county_with_a_year).values_list("id", "status", "version"):
        chain = events[request]
        assert chain[0][:3] == ("create", "", "requested")
        for before, after in zip(chain, chain[1:], strict=False):
            assert after[1] == before[2], (request, chain)
        assert chain[-1][2] == status
        assert version == len(chain)


def test_readers_claim_on_duty_one_item_at_a_time(county_with_a_year):
    shifts = defaultdict(list)
    for centre, reader, start, end in RosterShift.objects.filter(
            centre__community=county_with_a_year.community).values_list(
            "centre_id", "practitioner_id", "starts_at", "ends_at"):
        shifts[(centre, reader)].append((start, end))
    held = defaultdict(list)
    claims = ExamEvent.objects.filter(request__community=county_with_a_year.community, action="claim")
    for centre, reader, at in claims.values_list("request__centre_id", "practitioner_id", "at"):
        assert any(start <= at < end for start, end in shifts[(centre, reader)]), (centre, reader, at)
    for reader, claimed, reported in exams(county_with_a_year).filter(
            status="published", exam_type__centre_kind="ecg").exclude(
            id__in=Report.objects.filter(status="superseded").values("request_id")).values_list(
            "claimed_by_id", "claimed_at", "reported_at"):
        held[reader].append((claimed, reported))
    for spans in held.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end


def test_ecg_acquisitions_are_wfdb_files_the_platform_reads_and_share_a_small_pool(county_with_a_year):
    attachments = Attachment.objects.filter(acquisition__request__community=county_with_a_year.community,
                                            role__startswith="wfdb")
    pairs = defaultdict(dict)
    for acquisition, role, blob in attachments.values_list("acquisition_id", "role", "blob_id"):
        pairs[acquisition][role] = blob
    distinct = {(p["wfdb-header"], p["wfdb-data"]) for p in pairs.values()}
    assert len(pairs) > 200 and len(distinct) <= 60  # content-addressed: a pool reused by every exam
    from countycare.diagnostics.models import Blob

    blobs = {b.sha256: bytes(b.content) for b in Blob.objects.filter(sha256__in={x for p in distinct for x in p})}
    for header, data in list(distinct)[:12]:
        recording = ecg.read_wfdb(blobs[header], blobs[data])
        assert recording.sample_rate == 500 and len(recording.lead_names) == 12
    pre = EcgPreRead.objects.filter(request__community=county_with_a_year.community)
    assert pre.count() == exams(county_with_a_year).filter(exam_type__code="ECG12").exclude(
        status__in=("requested", "cancelled", "returned")).count()
    assert pre.filter(critical=True).exists()
    flags = Counter(f for row in pre.values_list("flags", flat=True) for f in row)
    assert flags["irregular"] > 0 and flags["bradycardia"] > 0 and flags["tachycardia"] > 0
    assert not pre.exclude(request__rank__gte=0).exists()
    assert not pre.filter(critical=True).exclude(request__rank__gte=2000).exists()  # raised to STAT


def test_lab_results_are_loinc_coded_with_units_ranges_and_flags(county_with_a_year):
    observations = Observation.objects.filter(exam_requests__community=county_with_a_year.community,
                                              category="laboratory", exam_requests__exam_type__centre_kind="lab")
    assert observations.count() > 500
    for code, unit, low, high, flag in observations.values_list(
            "code", "unit", "reference_low", "reference_high", "interpretation").distinct()[:500]:
        assert lab.loinc_valid(code), code
        assert unit
        assert low is not None or high is not None
        assert flag in ("N", "H", "L", "HH", "LL", "A")
    published = exams(county_with_a_year).filter(exam_type__centre_kind="lab", status="published")
    assert not published.annotate(n=Count("observations")).filter(n=0).exists()


def test_reports_one_current_version_the_record_has_the_conclusion(county_with_a_year):
    qs = exams(county_with_a_year)
    published = qs.filter(status="published")
    assert not published.exclude(reports__current=True).exists()
    assert not Report.objects.filter(request__in=published, current=True).exclude(
        status__in=("final", "amended")).exists()
    assert Report.objects.filter(request__in=published, status="superseded").exists()  # second readings
    assert Report.objects.filter(request__in=published, current=True, verifier__isnull=False,
                                 request__exam_type__centre_kind="imaging").exists()
    assert not Report.objects.filter(request__in=published, current=True, recognised_until__isnull=True).exists()
    assert not published.exclude(exam_type__centre_kind="lab").annotate(n=Count("observations")).exclude(
        n=1).exists()
    texts = Report.objects.filter(request__in=published, request__exam_type__code="ECG12").values_list(
        "findings", flat=True)[:300]
    assert all("__" not in text and "次/分" in text for text in texts)


def test_some_critical_values_acknowledged_and_some_escalated_to_the_duty_doctor(county_with_a_year):
    alerts = CriticalAlert.objects.filter(community=county_with_a_year.community)
    assert alerts.count() >= 3
    assert alerts.filter(status="acknowledged").exists()
    escalated = alerts.filter(escalated_at__isnull=False)
    assert escalated.exists()
    for alert in escalated:
        assert alert.escalated_at > alert.ack_due_at
        if alert.escalated_to_id:
            assert RosterShift.objects.filter(practitioner_id=alert.escalated_to_id, centre__isnull=True,
                                              starts_at__lte=alert.escalated_at,
                                              ends_at__gt=alert.escalated_at).exists()
    for alert in alerts.filter(status="acknowledged"):
        assert alert.raised_at <= alert.acknowledged_at and alert.request.acknowledged_at is not None
        assert list(alert.events.values_list("action", flat=True))[:2] == ["raised", "notified"]


def test_recognition_avoids_some_orders_and_repeats_others_with_reasons(county_with_a_year):
    checks = RecognitionCheck.objects.filter(community=county_with_a_year.community)
    decisions = Counter(checks.values_list("decision", flat=True))
    assert decisions["avoided"] > 0 and decisions["repeated"] > 0
    for request in exams(county_with_a_year).filter(recognised_report__isnull=False).select_related(
            "recognised_report__request"):
        source = request.recognised_report
        assert request.repeat_reason
        assert source.request.resident_id == request.resident_id
        assert source.request.exam_type_id == request.exam_type_id
        assert source.request.reported_at < request.requested_at < source.recognised_until


def test_imaging_keeps_dicom_references_and_pathology_its_slides(county_with_a_year):
    imaging = Acquisition.objects.filter(request__community=county_with_a_year.community, kind="dicom")
    assert imaging.exists() and not imaging.filter(study_instance_uid="").exists()
    assert all(acquisition.series for acquisition in imaging[:200])
    slides = Attachment.objects.filter(acquisition__request__community=county_with_a_year.community, role="slide")
    assert slides.exists() and not slides.exclude(media_type="image/png").exists()


def test_the_platform_works_on_the_generated_data(county_with_a_year):
    """The real queries and services run on the generated rows: the worklist order, the turnaround board, a
    claim by the demo reader on duty."""
    from countycare.accounts import services as accounts
    from countycare.core.codes import Role
    from countycare.diagnostics import queries, services
    from countycare.synth.diagnostics import demo_worklist, ensure_on_duty

    community = county_with_a_year.community
    centre = Centre.objects.get(community=community, kind="ecg")
    rows = queries.turnaround(centre, since=NOW - dt.timedelta(days=365), until=NOW, now=NOW)
    overall = rows[-1]
    assert overall.reported > 500 and overall.share_within_target > 0.8
    practitioner, lead = demo_reader(community)
    reader = accounts.create_user(username="reader_t", role=Role.CENTRE_READER, organization=lead,
                                  password="Test-pass-2026", practitioner=practitioner)
    village = accounts.create_user(
        username="village_doctor", role=Role.VILLAGE_DOCTOR, password="Test-pass-2026",
        organization=Organization.objects.filter(community=community, org_type=OrganizationType.VILLAGE_CLINIC)
        .annotate(n=Count("residents")).order_by("-n", "id").first())
    now = dt.datetime.now(dt.UTC)
    ensure_on_duty(practitioner.pk, now=now)
    assert demo_worklist(community.pk, now=now) == 3
    top = queries.worklist(reader, centre).first()
    assert top.pre_read.critical  # AF with a rapid rate comes first
    claimed = services.claim_next(user=reader, centre=centre, now=now)
    assert claimed.pk == top.pk and claimed.status == "claimed"
    assert village.pk
