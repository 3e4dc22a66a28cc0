"""The records behind a number: for each indicator, the rows its numerator and denominator counted, for a period and
a unit, as a queryset the caller scopes to what the user may see (`queries.drilldown`).

Each spec restates the fact's filter in ORM terms over the same tables, so the list a clinician opens is the list
the number was counted from (a test compares the two counts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

from countycare.core.codes import BRANCH_TYPES, GRASSROOTS_TYPES, InsuranceScheme, Level, OrganizationType, PostingKind
from countycare.diagnostics.models import CentreKind, ExamRequest, ExamStatus, RecognitionCheck
from countycare.records.models import Encounter, EncounterKind, EncounterStatus
from countycare.referrals.models import CLOSED_STATUSES, Referral, ReferralKind, ReferralStatus
from countycare.registry.models import Posting

from .facts import SENIOR_TITLES, Period

ENCOUNTER = "encounter"
REFERRAL = "referral"
EXAM = "exam"
RECOGNITION = "recognition"
POSTING = "posting"
OUTSIDE = Q(organization__level=Level.OUTSIDE)


@dataclass(frozen=True)
class Spec:
    kind: str  # which records
    base: Callable[[Period], QuerySet]  # the denominator's records in the period (all of them for a count)
    attribution: str  # the field that holds the organisation a record is attributed to
    numerator: Q | None = None  # which of them the numerator counts (None: all)
    patient_data: bool = True


def _visits(p: Period) -> QuerySet:
    return (Encounter.objects.filter(community_id=p.community_id, started_at__gte=p.since, started_at__lt=p.until)
            .exclude(status=EncounterStatus.CANCELLED))


def _admissions(p: Period) -> QuerySet:
    return _visits(p).filter(kind=EncounterKind.INPATIENT).exclude(resident__insurance_scheme=InsuranceScheme.NONE)


def _discharges(p: Period) -> QuerySet:
    return (Encounter.objects.filter(community_id=p.community_id, kind=EncounterKind.INPATIENT,
                                     status=EncounterStatus.FINISHED, ended_at__gte=p.since, ended_at__lt=p.until)
            .exclude(OUTSIDE))


def _referrals(p: Period, **filters) -> QuerySet:
    return Referral.objects.filter(community_id=p.community_id, requested_at__gte=p.since, requested_at__lt=p.until,
                                   **filters)


def _reported(p: Period) -> QuerySet:
    return ExamRequest.objects.filter(community_id=p.community_id, reported_at__gte=p.since,
                                      reported_at__lt=p.until)


HOME = "resident__home_organization_id"
AT = "organization_id"
FROM = "from_organization_id"

SPECS: dict[str, Spec] = {
    "county_visit_rate": Spec(ENCOUNTER, _visits, HOME, ~OUTSIDE),
    "grassroots_visit_share": Spec(ENCOUNTER, _visits, HOME, Q(organization__org_type__in=GRASSROOTS_TYPES)),
    "in_county_inpatient_share": Spec(ENCOUNTER, _admissions, HOME, ~OUTSIDE),
    "out_of_county_inpatient_share": Spec(ENCOUNTER, _admissions, HOME, OUTSIDE),
    "out_of_county_inpatient_share_change": Spec(ENCOUNTER, _admissions, HOME, OUTSIDE),
    "tcm_visit_share": Spec(ENCOUNTER, lambda p: _visits(p).exclude(OUTSIDE), AT, Q(is_tcm=True)),
    "inpatient_cost_per_stay": Spec(ENCOUNTER, _discharges, AT),
    "inpatient_cost_per_stay_growth": Spec(ENCOUNTER, _discharges, AT),
    "up_referrals": Spec(REFERRAL, lambda p: _referrals(p, kind=ReferralKind.UP), FROM),
    "down_referrals": Spec(REFERRAL, lambda p: _referrals(p, kind=ReferralKind.DOWN), FROM),
    "out_of_county_referrals": Spec(REFERRAL, lambda p: _referrals(p, kind=ReferralKind.OUT_OF_COUNTY), FROM),
    "lead_down_referral_share": Spec(
        REFERRAL, lambda p: _referrals(p, kind=ReferralKind.DOWN,
                                       from_organization__org_type=OrganizationType.LEAD_HOSPITAL)
        .exclude(status=ReferralStatus.CANCELLED), FROM),
    "out_of_county_returns": Spec(
        REFERRAL, lambda p: _referrals(p, from_organization__org_type=OrganizationType.PARTNER_HOSPITAL),
        "to_organization_id"),
    "referrals_completed": Spec(REFERRAL, lambda p: _referrals(p, status=ReferralStatus.COMPLETED), FROM),
    "referrals_rejected": Spec(REFERRAL, lambda p: _referrals(p, status=ReferralStatus.REJECTED), FROM),
    "referrals_expired": Spec(REFERRAL, lambda p: _referrals(p, status=ReferralStatus.EXPIRED), FROM),
    "referral_completion_rate": Spec(REFERRAL, lambda p: _referrals(p, status__in=CLOSED_STATUSES), FROM,
                                     Q(status=ReferralStatus.COMPLETED)),
    "exam_turnaround_p50": Spec(EXAM, _reported, "centre_id"),
    "exam_turnaround_p95": Spec(EXAM, _reported, "centre_id"),
    "exam_within_target_share": Spec(EXAM, _reported, "centre_id"),
    "remote_diagnoses_per_10k": Spec(
        EXAM, lambda p: _reported(p).exclude(requesting_organization_id=F("centre__organization_id")),
        "requesting_organization_id"),
    "village_ecg_coverage": Spec(
        EXAM, lambda p: ExamRequest.objects.filter(
            community_id=p.community_id, requested_at__gte=p.since, requested_at__lt=p.until,
            centre__kind=CentreKind.ECG, requesting_organization__org_type=OrganizationType.VILLAGE_CLINIC)
        .exclude(status=ExamStatus.CANCELLED), "requesting_organization_id"),
    "exams_avoided": Spec(
        RECOGNITION, lambda p: RecognitionCheck.objects.filter(community_id=p.community_id, at__gte=p.since,
                                                               at__lt=p.until), AT, Q(decision="avoided")),
    "posted_seniors_per_10k": Spec(POSTING, lambda p: _posted(p), AT, patient_data=False),
    "branches_without_posted_senior": Spec(POSTING, lambda p: _posted(p), AT, patient_data=False),
}


def _posted(p: Period) -> QuerySet:
    return (Posting.objects.filter(organization__community_id=p.community_id, organization__org_type__in=BRANCH_TYPES,
                                   kind__in=(PostingKind.COUNTY_TO_TOWNSHIP, PostingKind.MULTI_SITE),
                                   practitioner__title__in=SENIOR_TITLES,
                                   practitioner__postings__kind=PostingKind.HOME,
                                   practitioner__postings__organization__org_type=OrganizationType.LEAD_HOSPITAL,
                                   start__lt=p.end)
            .filter(Q(end__isnull=True) | Q(end__gte=p.start)).distinct())
