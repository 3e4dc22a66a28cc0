"""A year of activity on top of a generated county: encounters with diagnoses, vital signs and costs at every
level, the problem lists of chronic patients, up-, down- and out-of-county referrals with their history, care
plans and record access, and the lead hospital's published slots with their bookings.

    read_county          the county back from the database (organisations, departments, who works where,
                         residents and their tags), so activity can be added to any generated county
    TownshipYear         one township's residents, one random stream (`stream(seed, "activity", code)`):
                         each resident's year as drafts (Visit, Transfer, BookingDraft)
    Capacity             the lead hospital's clinic sessions and bed slots, their counters and bookings
    Emitter              a township's drafts as rows, with ids (Bills and Readings: amounts drawn once)
    load_activity        township by township through the BulkLoader (COPY beside the generation)

Everything happens in the year before the as-of day (until 08:00 on it): encounters started then, stays
still running at the end are in progress, referrals whose next step would fall after it are still open.
Rates are in rates.py, clinical tables in clinical.py; docs/synthetic-county.md explains both.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Model

from countycare.core import policy
from countycare.core.codes import KeyPopulation, OrganizationType, Title
from countycare.records.models import Diagnosis, Encounter, Observation, Problem
from countycare.referrals.models import Booking, CareAccess, CarePlan, Referral, ReferralEvent, Slot

from . import clinical, rates
from .county import new_uuid, stream
from .load import BulkLoader

LOCAL = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
DAY = 1440
WINDOW_DAYS = 365
END_MINUTE = WINDOW_DAYS * DAY + 8 * 60  # 08:00 on the as-of day: "now" for the generated year
PATIENT_TITLES = frozenset({Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN, Title.ATTENDING_PHYSICIAN,
                            Title.RESIDENT_PHYSICIAN, Title.ASSISTANT_PHYSICIAN, Title.VILLAGE_DOCTOR})
LEVEL_OF_TYPE = {
    OrganizationType.VILLAGE_CLINIC: "village",
    OrganizationType.TOWNSHIP_CENTRE: "branch",
    OrganizationType.COMMUNITY_CENTRE: "branch",
    OrganizationType.LEAD_HOSPITAL: "lead",
    OrganizationType.TCM_HOSPITAL: "tcm",
    OrganizationType.MCH: "mch",
    OrganizationType.PARTNER_HOSPITAL: "partner",
}
GRASSROOTS = frozenset({"village", "branch"})
OUTPATIENT, EMERGENCY, INPATIENT, HOME_VISIT = "outpatient", "emergency", "inpatient", "home_visit"
NO_CLINIC_DEPARTMENTS = frozenset({"20", "26", "28"})  # emergency, anaesthesia, intensive care: no sessions
TAGS_READ = (KeyPopulation.HYPERTENSION, KeyPopulation.DIABETES, KeyPopulation.PREGNANT, KeyPopulation.SEVERE_MENTAL,
             KeyPopulation.TUBERCULOSIS)

ENCOUNTER_COLUMNS = (
    "id", "uuid", "community_id", "resident_id", "organization_id", "department_id", "practitioner_id", "kind",
    "status", "source", "started_at", "ended_at", "ward", "chief_complaint", "note", "is_tcm", "cost_drugs",
    "cost_exams", "cost_treatment", "cost_beds", "cost_other", "cost_total", "version", "created_at", "updated_at",
)
DIAGNOSIS_COLUMNS = ("id", "uuid", "community_id", "encounter_id", "resident_id", "code", "display", "is_primary",
                     "recorded_at", "practitioner_id")
OBSERVATION_COLUMNS = (
    "id", "uuid", "community_id", "resident_id", "encounter_id", "category", "code", "display", "value_quantity",
    "unit", "value_text", "reference_low", "reference_high", "interpretation", "status", "effective_at",
    "organization_id", "practitioner_id", "created_at",
)
PROBLEM_COLUMNS = ("id", "uuid", "community_id", "resident_id", "code", "display", "status", "onset_date",
                   "recorded_at", "resolved_at", "organization_id", "practitioner_id", "source_diagnosis_id",
                   "version")
REFERRAL_COLUMNS = (
    "id", "uuid", "community_id", "resident_id", "kind", "status", "urgent", "from_organization_id",
    "from_department_id", "from_practitioner_id", "to_organization_id", "to_department_id", "to_practitioner_id",
    "source_encounter_id", "arrival_encounter_id", "reason", "clinical_summary", "diagnoses", "requested_at",
    "accepted_at", "arrived_at", "completed_at", "closed_at", "due_at", "status_reason", "booking_id",
    "bed_booking_id", "slip_number", "created_by_id", "version", "updated_at",
)
EVENT_COLUMNS = ("id", "referral_id", "at", "action", "from_status", "to_status", "reason", "user_id", "username",
                 "organization_id")
CARE_PLAN_COLUMNS = ("id", "uuid", "community_id", "referral_id", "resident_id", "diagnoses", "treatment_summary",
                     "medicines", "follow_up", "warning_signs", "responsible_practitioner_id",
                     "responsible_organization_id", "status", "period_end", "created_at", "version")
ACCESS_COLUMNS = ("id", "community_id", "resident_id", "organization_id", "practitioner_id", "reason",
                  "referral_id", "starts_at", "ends_at")
SLOT_COLUMNS = ("id", "uuid", "community_id", "organization_id", "department_id", "practitioner_id", "kind", "label",
                "starts_at", "ends_at", "capacity", "reserved", "booked_general", "booked_reserved", "created_at")
BOOKING_COLUMNS = ("id", "uuid", "community_id", "slot_id", "resident_id", "from_reserve", "status", "booked_at",
                   "booked_by_id")
ACTIVITY_MODELS: tuple[type[Model], ...] = (Encounter, Diagnosis, Observation, Problem, Slot, Booking, Referral,
                                            ReferralEvent, CarePlan, CareAccess)
# The requests left waiting in the demo village's receivers' inboxes: sender, receiver, code, department there.
OPEN_REQUESTS = (
    ("village", "branch", "J18.9", "03"),
    ("village", "branch", "K52.9", "03"),
    ("village", "lead", "R07.4", "03.04"),
    ("village", "lead", "I25.1", "03.04"),
    ("branch", "lead", "I25.1", "03.04"),
    ("branch", "lead", "I50.9", "03.04"),
)
# Index keys the activity load appends in ascending order (residents in id order, each resident's rows in
# time order, ids as they come): maintained during the load rather than rebuilt after it.
ACTIVITY_APPENDED: dict[type[Model], set[tuple[str, ...]]] = {
    Encounter: {("community_id",), ("resident_id",), ("resident_id", "started_at")},
    Diagnosis: {("community_id",), ("encounter_id",), ("resident_id",), ("resident_id", "recorded_at"),
                ("encounter_id", "code")},
    Observation: {("community_id",), ("encounter_id",), ("resident_id",), ("resident_id", "effective_at")},
}
REASONS = {
    "up": "病情超出本院诊疗能力，转上级医院进一步诊治",
    "urgent": "急危重症，经绿色通道转上级医院",
    "down": "病情稳定，转回基层继续康复治疗和随访管理",
    "out_of_county": "县域内难以诊治，凭转诊单转县外上级医院",
    "return": "县外住院治疗后病情稳定，转回县域继续治疗",
}


# Standard normal quantiles: a draw is one uniform and a lookup (cheaper than random.gauss, and plenty for
# spreads of costs and measurements).
NORMAL = [statistics.NormalDist().inv_cdf((k + 0.5) / 4096) for k in range(4096)]


# --- the county, read back ------------------------------------------------------------------------------------
@dataclass
class Site:
    """An organisation that sees patients."""

    id: int
    level: str  # village / branch / lead / tcm / mch / partner
    name: str
    division_code: str
    branch_id: int | None = None  # a village's branch; a branch's own id
    departments: dict[str, int] = field(default_factory=dict)  # code -> id
    department_names: dict[int, str] = field(default_factory=dict)
    department_beds: dict[int, int] = field(default_factory=dict)
    # department id (None: anyone at the organisation) -> [(practitioner, posted from, posted until)] (ordinals)
    staff: dict[int | None, list[tuple[int, int, int]]] = field(default_factory=dict)

    def department(self, code: str | None) -> int | None:
        """The department with this code, or the nearest one (50.10 at a county without a TCM hospital -> 50)."""
        if code is None:
            return None
        found = self.departments.get(code)
        if found is None and "." in code:
            found = self.departments.get(code.split(".")[0])
        return found


@dataclass
class Person:
    id: int
    sex: str
    birth: dt.date
    home: int  # home organisation id
    tags: dict[str, dt.date]


@dataclass
class CountyView:
    community_id: int
    sites: dict[int, Site]
    lead: Site
    tcm: Site | None
    mch: Site
    partner: Site
    branches: list[Site]  # in id order: their residents are numbered township by township, in that order
    practitioner_names: dict[int, str]
    people: dict[int, list[Person]]  # branch id -> residents (by id)
    reserved_share: float
    release_hours: int
    access_days: int
    expiry_days: int
    follow_days: int


def read_county(community_id: int, *, using: str = "default") -> CountyView:
    connection = connections[using]
    sites: dict[int, Site] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, org_type, name, division_code, parent_id FROM registry_organization "
            "WHERE community_id = %s AND active ORDER BY id", [community_id])
        for org_id, org_type, name, code, parent in cursor.fetchall():
            level = LEVEL_OF_TYPE.get(org_type)
            if level:
                sites[org_id] = Site(org_id, level, name, code, parent if level == "village" else org_id)
        cursor.execute(
            "SELECT d.id, d.organization_id, d.code, d.name, d.beds FROM registry_department d "
            "JOIN registry_organization o ON o.id = d.organization_id WHERE o.community_id = %s ORDER BY d.id",
            [community_id])
        for dept_id, org_id, code, name, beds in cursor.fetchall():
            site = sites.get(org_id)
            if site is not None:
                site.departments.setdefault(code, dept_id)
                site.department_names[dept_id] = name
                site.department_beds[dept_id] = beds
        cursor.execute(
            "SELECT p.id, p.name, p.title, s.organization_id, s.department_id, s.start, s.end "
            "FROM registry_posting s JOIN registry_practitioner p ON p.id = s.practitioner_id "
            "WHERE p.community_id = %s AND p.active ORDER BY s.organization_id, s.department_id, p.id, s.start",
            [community_id])
        names: dict[int, str] = {}
        for pid, name, title, org_id, dept_id, start, end in cursor.fetchall():
            names[pid] = name
            site = sites.get(org_id)
            if site is None or title not in PATIENT_TITLES:
                continue
            start = _date(start)
            end = _date(end) if end else dt.date.max
            entry = (pid, start.toordinal(), end.toordinal())
            site.staff.setdefault(dept_id, []).append(entry)
            if dept_id is not None:
                site.staff.setdefault(None, []).append(entry)
        cursor.execute(
            "SELECT r.id, t.tag, t.since FROM registry_residenttag t JOIN registry_resident r ON r.id = t.resident_id "
            "WHERE r.community_id = %s AND t.tag IN (%s, %s, %s, %s, %s)", [community_id, *TAGS_READ])
        tags: dict[int, dict[str, dt.date]] = {}
        for rid, tag, since in cursor.fetchall():
            tags.setdefault(rid, {})[tag] = _date(since) if since else dt.date(2000, 1, 1)
        cursor.execute(
            "SELECT id, sex, birth_date, home_organization_id FROM registry_resident "
            "WHERE community_id = %s AND merged_into_id IS NULL ORDER BY id", [community_id])
        rows = cursor.fetchall()
    levels: dict[str, list[Site]] = {}
    for site in sites.values():
        levels.setdefault(site.level, []).append(site)
    if not levels.get("lead") or not levels.get("partner") or not levels.get("mch") or not levels.get("branch"):
        raise ValueError("the community lacks a lead hospital, a maternal-child hospital, a branch or a partner")
    branches = sorted(levels["branch"], key=lambda s: s.id)  # as their residents were numbered
    people: dict[int, list[Person]] = {b.id: [] for b in branches}
    for rid, sex, birth, home in rows:
        site = sites.get(home)
        if site is None or site.level not in GRASSROOTS:
            continue
        people[site.branch_id].append(Person(rid, sex, _date(birth), home, tags.get(rid, {})))  # type: ignore[index]
    return CountyView(
        community_id=community_id, sites=sites, lead=levels["lead"][0], tcm=(levels.get("tcm") or [None])[0],
        mch=levels["mch"][0], partner=levels["partner"][0], branches=branches, practitioner_names=names,
        people=people,
        reserved_share=float(policy.get("reserved_slot_share", community_id)),
        release_hours=int(policy.get("reserved_slot_release_hours", community_id)),
        access_days=int(policy.get("referral_record_access_days", community_id)),
        expiry_days=int(policy.get("referral_expiry_days", community_id)),
        follow_days=int(policy.get("care_plan_follow_days", community_id)),
    )


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


# --- time -------------------------------------------------------------------------------------------------
class Clock:
    """Times are minutes since local midnight on the first day of the window (Asia/Shanghai has one UTC offset
    all year); `text` turns them into UTC for the database. Which days are busy (weekdays, winter)."""

    def __init__(self, as_of: dt.date, utc_suffix: str = "") -> None:
        self.suffix = utc_suffix
        self.day_text: dict[int, str] = {}
        self.texts: dict[int, str] = {}
        self.first_day = as_of - dt.timedelta(days=WINDOW_DAYS)
        self.first_ordinal = self.first_day.toordinal()
        start = dt.datetime.combine(self.first_day, dt.time(0, 0), tzinfo=LOCAL)
        self.utc_offset_minutes = int(start.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
        days = [self.first_day + dt.timedelta(days=d) for d in range(WINDOW_DAYS)]
        self.winter = [d.month in rates.WINTER_MONTHS for d in days]
        weights = [rates.DAY_WEIGHTS[d.weekday()] * (1.1 if w else 0.93) for d, w in zip(days, self.winter,
                                                                                        strict=True)]
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def text(self, minute: int) -> str:
        """The UTC time as the database takes it in text ("2026-06-29 01:30:00+00" for PostgreSQL, without the
        offset for SQLite): formatting is several times cheaper than adapting an aware datetime per value, and
        most minutes recur (a diagnosis and an observation share their encounter's)."""
        found = self.texts.get(minute)
        if found is None:
            day, in_day = divmod(minute - self.utc_offset_minutes, DAY)
            date = self.day_text.get(day)
            if date is None:
                date = self.day_text[day] = dt.date.fromordinal(self.first_ordinal + day).isoformat()
            found = self.texts[minute] = f"{date} {in_day // 60:02d}:{in_day % 60:02d}:00{self.suffix}"
        return found

    def day_of(self, minute: int) -> dt.date:
        return dt.date.fromordinal(self.first_ordinal + minute // DAY)

    def busy_day(self, rng: random.Random) -> int:
        return bisect(self.cumulative, rng.random() * self.total)

    def end_of_local_day(self, day: dt.date) -> dt.datetime:
        return (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=LOCAL).astimezone(UTC)
                - dt.timedelta(microseconds=1))


# --- drafts -----------------------------------------------------------------------------------------------
class Visit:
    """An encounter before it has an id. Most attributes keep their class default; only what differs is set."""

    tcm = False
    complaint = ""
    note = ""
    ward = ""
    practitioner: int | None = None
    id = 0
    vitals: tuple | list = ()
    los = 0
    first_diagnosis = 0  # id of the first (primary) diagnosis; the others follow in order
    follow_up = False

    def __init__(self, person: Person, site: Site, department: int | None, kind: str, start: int, end: int,
                 codes: list[str]) -> None:
        self.person, self.site, self.department, self.kind = person, site, department, kind
        self.start, self.end, self.codes = start, end, codes
        self.claim = site.level == "partner"


class Transfer:
    """A referral before it has an id: who, where, and the steps it took (minute, action, from, to, reason,
    acting organisation, actor)."""

    __slots__ = ("kind", "person", "from_site", "from_department", "from_practitioner", "to_site", "to_department",
                 "to_practitioner", "source", "arrival", "urgent", "codes", "reason", "summary", "requested",
                 "steps", "booking", "bed_booking", "plan", "id")

    def __init__(self, kind: str, person: Person, from_site: Site, to_site: Site, requested: int) -> None:
        self.kind, self.person, self.from_site, self.to_site = kind, person, from_site, to_site
        self.requested = requested
        self.from_department: int | None = None
        self.from_practitioner: int | None = None
        self.to_department: int | None = None
        self.to_practitioner: int | None = None
        self.source: Visit | None = None
        self.arrival: Visit | None = None
        self.urgent = False
        self.codes: list[str] = []
        self.reason = ""
        self.summary = ""
        self.steps: list[tuple[int, str, str, str, str, int | None, str]] = []
        self.booking: BookingDraft | None = None
        self.bed_booking: BookingDraft | None = None
        self.plan: tuple | None = None  # (responsible practitioner, treatment, medicines, follow-ups, warnings)
        self.id = 0

    @property
    def status(self) -> str:
        return self.steps[-1][3]


class BookingDraft:
    __slots__ = ("slot", "person", "from_reserve", "status", "booked", "id")

    def __init__(self, slot: int, person: int, from_reserve: bool, booked: int) -> None:
        self.slot, self.person, self.from_reserve, self.booked = slot, person, from_reserve, booked
        self.status = "booked"
        self.id = 0


# --- capacity ---------------------------------------------------------------------------------------------
class Capacity:
    """The lead hospital's clinic sessions (every clinical department, morning and afternoon, every day) and
    daily bed slots (every ward), from the first day of the window to SLOTS_AHEAD_DAYS after the as-of day.
    Places are taken as `referrals.services` takes them: a family doctor's referral from the reserved share
    first, everyone else from the general places (capacity − reserved)."""

    SESSIONS = ((8 * 60, 12 * 60, "上午"), (14 * 60, 17 * 60 + 30, "下午"))

    def __init__(self, lead: Site, clock: Clock, share: float, release_hours: int) -> None:
        self.lead, self.clock = lead, clock
        self.release_minutes = release_hours * 60
        self.days = WINDOW_DAYS + rates.SLOTS_AHEAD_DAYS
        self.meta: list[tuple[int, str, str, int, int]] = []  # department, kind, label, starts, ends (minutes)
        self.capacity: list[int] = []
        self.reserved: list[int] = []
        self.general: list[int] = []
        self.from_reserve: list[int] = []
        self.index: dict[tuple[int, int, int], int] = {}  # (department, day, session 0/1/2 bed) -> slot
        clinics = [(code, d) for code, d in sorted(lead.departments.items()) if code not in NO_CLINIC_DEPARTMENTS
                   and d in lead.department_names and _clinical_code(code)]
        beds = [(code, d) for code, d in sorted(lead.departments.items()) if lead.department_beds.get(d, 0) > 0]
        for day in range(self.days):
            weekend = (clock.first_day + dt.timedelta(days=day)).weekday() >= 5
            for _, dept in clinics:
                cap = rates.CLINIC_CAPACITY["weekend" if weekend else "weekday"]
                for session, (begin, end, label) in enumerate(self.SESSIONS):
                    self._add(dept, day, session, "clinic", f"{lead.department_names[dept]}专家门诊（{label}）",
                              day * DAY + begin, day * DAY + end, cap, share)
            for _, dept in beds:
                cap = max(2, round(lead.department_beds[dept] * rates.BED_SLOT_PER_BED))
                self._add(dept, day, 2, "bed", f"{lead.department_names[dept]}床位", day * DAY + 8 * 60,
                          (day + 1) * DAY + 8 * 60, cap, share)

    def _add(self, dept: int, day: int, session: int, kind: str, label: str, starts: int, ends: int, cap: int,
             share: float) -> None:
        self.index[(dept, day, session)] = len(self.meta)
        self.meta.append((dept, kind, label, starts, ends))
        self.capacity.append(cap)
        self.reserved.append(min(cap, math.ceil(cap * share - 1e-9)))
        self.general.append(0)
        self.from_reserve.append(0)

    def take(self, dept: int | None, minute: int, *, bed: bool, for_referral: bool, booked_at: int,
             look_ahead: int = 6) -> tuple[int, bool] | None:
        """A place in the slot running at `minute` (or one of the next few), taken as `referrals.services` takes
        it: a family doctor's referral from the reserve first; general places are capacity − reserved until
        the reserve is released `release` minutes before the start, then whatever the reserve left."""
        if dept is None:
            return None
        day, in_day = divmod(minute, DAY)
        first = 0 if in_day < 13 * 60 else 1
        steps = [(day + k, 2) for k in range(look_ahead)] if bed else [
            (day + (first + s) // 2, (first + s) % 2) for s in range(look_ahead)]
        for d, session in steps:
            slot = self.index.get((dept, d, session))
            if slot is None or self.meta[slot][4] <= booked_at:
                continue
            cap, reserved, taken_reserve, taken_general = (self.capacity[slot], self.reserved[slot],
                                                           self.from_reserve[slot], self.general[slot])
            if for_referral and taken_general < cap - taken_reserve and taken_reserve < reserved:
                self.from_reserve[slot] += 1
                return slot, True
            released = booked_at >= self.meta[slot][3] - self.release_minutes
            if taken_general < (cap - taken_reserve if released else cap - reserved):
                self.general[slot] += 1
                return slot, False
        return None

    def release(self, slot: int, from_reserve: bool) -> None:
        if from_reserve:
            self.from_reserve[slot] -= 1
        else:
            self.general[slot] -= 1


def _clinical_code(code: str) -> bool:
    return code[:1].isdigit() and not code.startswith(("3", "YJ"))


# --- one township's year ------------------------------------------------------------------------------------
class TownshipYear:
    """The year of one township's residents (those registered at its branch or one of its village clinics):
    `run` draws each resident's visits, admissions and referrals, in resident order, from the township's own
    stream. Places at the lead hospital come from the county's shared `Capacity`."""

    def __init__(self, county: CountyView, clock: Clock, capacity: Capacity, branch: Site, as_of: dt.date,
                 seed: int, inbox_village: int | None) -> None:
        self.county, self.clock, self.capacity, self.branch, self.as_of = county, clock, capacity, branch, as_of
        self.rng = stream(seed, "activity", branch.division_code)
        self.inbox_village = inbox_village
        self.inbox: list[Transfer] = []
        self.people: list[Person] = []
        self.delivery_scale = 0.0
        self.visits: list[Visit] = []
        self.transfers: list[Transfer] = []
        self.bookings: list[BookingDraft] = []
        self.conditions_of: dict[int, dict[str, dt.date]] = {}
        self.names = clinical.icd10_names()
        self._menus: dict[tuple, tuple[list[clinical.Entry], list[float]]] = {}
        self._levels: dict[tuple, tuple[list[str], list[float]]] = {}
        self.sick = rates.per_year(rates.SICK_VISITS_BY_AGE)
        self.admit = rates.per_year(rates.ADMISSIONS_BY_AGE)
        self.condition_rates = {code: rates.per_year(table) for code, table in rates.CONDITIONS_BY_AGE.items()}
        self.fertility = rates.per_year(rates.FERTILITY_BY_AGE)
        self.checks = rates.per_year(rates.CHILD_CHECKS_BY_AGE)
        self.tcm_site = county.tcm or county.lead
        self.complaints = {code: _complaint_variants(templates) for code, templates in clinical.COMPLAINTS.items()}

    # --- helpers ---------------------------------------------------------------------------------------------
    def pick(self, options: list[str], cumulative: list[float]) -> str:
        return options[bisect(cumulative, self.rng.random() * cumulative[-1])]

    def menu(self, name: str, menu: list[clinical.Entry], age: int, sex: str, winter: bool) -> clinical.Entry | None:
        key = (name, min(age, 100), sex, winter)
        found = self._menus.get(key)
        if found is None:
            entries = [e for e in menu if e[2] <= age <= e[3] and (not e[4] or e[4] == sex)]
            weights = [e[1] * (e[6] if winter else 1.0) for e in entries]
            found = self._menus[key] = (entries, list(accumulate(weights)))
        entries, cumulative = found
        if not entries:
            return None
        return entries[bisect(cumulative, self.rng.random() * cumulative[-1])]

    def level_table(self, kind: str, group: str, village_home: bool, man: bool) -> tuple[list[str], list[float]]:
        key = (kind, group, village_home, man)
        found = self._levels.get(key)
        if found is None:
            shares = dict((rates.VISIT_LEVELS if kind == "visit" else rates.ADMISSION_LEVELS)[group])
            if not village_home and "village" in shares:
                shares["branch"] += shares.pop("village")
            if man and group == "adult":
                shares["lead"] += shares.pop("mch")
            levels = list(shares)
            found = self._levels[key] = (levels, list(accumulate(shares[level] for level in levels)))
        return found

    def site_for(self, level: str, person: Person) -> Site:
        if level == "village":
            return self.county.sites[person.home]
        if level == "branch":
            return self.branch
        if level == "tcm":
            return self.tcm_site
        return {"lead": self.county.lead, "mch": self.county.mch, "partner": self.county.partner}[level]

    def clinician(self, site: Site, department: int | None, minute: int) -> int | None:
        pool = site.staff.get(department) or site.staff.get(None)
        if not pool:
            return None
        day = self.clock.first_ordinal + minute // DAY
        for _ in range(4):
            pid, start, end = pool[int(self.rng.random() * len(pool))]
            if start <= day <= end:
                return pid
        return pool[0][0]

    def clinic_minute(self, day: int) -> int:
        rng = self.rng
        if rng.random() < 0.7:
            return day * DAY + 8 * 60 + int(rng.random() * 220)
        return day * DAY + 14 * 60 + int(rng.random() * 180)

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        rng = self.rng
        if lam > 30:
            return max(0, round(rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k

    def visit(self, person: Person, level: str, kind: str, minute: int, codes: list[str],
              dept_code: str | None) -> Visit:
        site = self.site_for(level, person)
        if level == "tcm" and site is self.county.lead and dept_code and not dept_code.startswith(("50", "21")):
            dept_code = "50"
        dept = site.department(dept_code)
        if kind == INPATIENT:
            end = minute
        elif kind == EMERGENCY:
            end = minute + 60 + int(self.rng.random() * 180)
        else:
            end = minute + 8 + int(self.rng.random() * 25)
        v = Visit(person, site, dept, kind, minute, end, codes)
        if level == "tcm":
            v.tcm = site is self.county.lead or self.rng.random() < rates.TCM_VISIT_SHARE["tcm"]
        elif dept_code and dept_code.startswith("50"):
            v.tcm = True
        elif level == "village":
            v.tcm = self.rng.random() < rates.TCM_VISIT_SHARE["village"]
        self.visits.append(v)
        return v

    def stay(self, v: Visit, level: str) -> None:
        """Make `v` an admission: length of stay, discharge, ward."""
        rng, code = self.rng, v.codes[0]
        mean = {"O80": 3.0, "O82": 5.0, "H25.9": 3.0, "Z51.1": 4.0, "K35.8": 6.0}.get(code, rates.STAY_DAYS[level])
        los = max(1, round(mean * math.exp(0.45 * NORMAL[int(rng.random() * 4096)] - 0.1)))
        v.los = los
        day = v.start // DAY
        v.end = (day + los) * DAY + 9 * 60 + int(rng.random() * 150)
        site = v.site
        if site.level == "partner":
            return
        name = site.department_names.get(v.department or 0, "")
        v.ward = f"{name}{rng.randint(1, 3)}病区{rng.randint(1, 45)}床" if site.level != "branch" else (
            f"住院部{rng.randint(1, 40)}床")

    # --- a resident's year -----------------------------------------------------------------------------------
    def person_year(self, p: Person) -> None:
        rng, county = self.rng, self.county
        age = self.as_of.year - p.birth.year - ((self.as_of.month, self.as_of.day) < (p.birth.month, p.birth.day))
        a = min(age, 130)
        man = p.sex == "male"
        group = "child" if age < 15 else ("adult" if age < 60 else "elder")
        village_home = county.sites[p.home].level == "village"
        start_visits = len(self.visits)
        conditions = self.conditions(p, a)

        # sickness visits
        lam = self.sick[a] * (1.0 if man else rates.SICK_VISITS_WOMEN)
        lam *= rng.gammavariate(rates.VISIT_DISPERSION, 1 / rates.VISIT_DISPERSION)
        levels, cumulative = self.level_table("visit", group, village_home, man)
        for _ in range(self.poisson(lam)):
            self.sick_visit(p, a, self.pick(levels, cumulative))
        # visits and admissions for chronic conditions
        for code in conditions:
            key = "CANCER" if code.startswith("C") else code
            for _ in range(self.poisson(rates.CONDITION_VISITS.get(key, 0.0))):
                self.condition_visit(p, code, key, village_home)
            for _ in range(self.poisson(rates.CONDITION_ADMISSIONS.get(key, 0.0))):
                self.condition_admission(p, a, code, key, conditions)
        # public-health services: chronic follow-ups, child checks, prenatal care, deliveries
        managed = [c for c in ("I10", "E11.9") if c in conditions]
        if managed and rng.random() < rates.CHRONIC_MANAGED:
            self.follow_ups(p, a, managed, village_home)
        if age <= 6:
            self.child_checks(p, a, village_home)
        if KeyPopulation.PREGNANT in p.tags:
            self.prenatal(p, p.tags[KeyPopulation.PREGNANT], village_home)
        if not man and 20 <= age < 45 and KeyPopulation.PREGNANT not in p.tags:
            if rng.random() < self.fertility[a] * self.delivery_scale:
                self.delivery(p)
        # acute admissions
        levels, cumulative = self.level_table("admission", group, village_home, man)
        for _ in range(self.poisson(self.admit[a])):
            self.acute_admission(p, a, self.pick(levels, cumulative))
        mine = self.visits[start_visits:]
        self.settle_stays(mine)
        self.refer(p, a, mine, village_home)
        self.conditions_of[p.id] = conditions

    def conditions(self, p: Person, age: int) -> dict[str, dt.date]:
        """The resident's chronic conditions and when each began: from the tags, and drawn by age."""
        rng = self.rng
        found: dict[str, dt.date] = {}
        for tag, code in clinical.TAG_CONDITIONS.items():
            if tag in p.tags:
                found[code] = p.tags[tag]
        for key, table in self.condition_rates.items():
            if rng.random() < table[age]:
                years = rng.random() * min(12.0, max(0.5, age - 30))
                onset = self.as_of - dt.timedelta(days=int(years * 365.25))
                if key == "CANCER":
                    weights = [w_m if p.sex == "male" else w_f for _, w_m, w_f in clinical.CANCERS]
                    cumulative = list(accumulate(weights))
                    code = clinical.CANCERS[bisect(cumulative, rng.random() * cumulative[-1])][0]
                    onset = self.as_of - dt.timedelta(days=int(rng.random() * 4 * 365.25))
                else:
                    code = key
                found.setdefault(code, onset)
        return found

    def sick_visit(self, p: Person, age: int, level: str) -> None:
        rng, clock = self.rng, self.clock
        day = clock.busy_day(rng)
        winter = clock.winter[day]
        kind = OUTPATIENT
        emergency = rates.EMERGENCY_SHARE.get(level, 0.0)
        if emergency and rng.random() < emergency:
            kind = EMERGENCY
        elif level == "village" and rng.random() < rates.HOME_VISIT_SHARE["village_75" if age >= 75 else "village"]:
            kind = HOME_VISIT
        menu_level = level if level != "tcm" or self.county.tcm else "tcm"
        menu = (clinical.EMERGENCY_MENUS.get(menu_level) if kind == EMERGENCY else None) or (
            clinical.OUTPATIENT_MENUS[menu_level])
        entry = self.menu(f"{menu_level}:{kind == EMERGENCY}", menu, age, p.sex, winter)
        if entry is None:  # nothing at this level for this person (an adult man at the MCH): the lead hospital
            level, kind = "lead", OUTPATIENT
            entry = self.menu("lead:False", clinical.LEAD_OUTPATIENT, age, p.sex, winter)
            assert entry is not None
        if kind == EMERGENCY:
            minute = day * DAY + int(rng.random() * DAY)
        elif kind == HOME_VISIT:
            minute = day * DAY + 9 * 60 + int(rng.random() * 8 * 60)
        else:
            minute = self.clinic_minute(day)
        v = self.visit(p, level, kind, minute, [entry[0]], entry[5])
        if kind == EMERGENCY and v.department is None:
            v.department = v.site.department("02")

    def condition_visit(self, p: Person, code: str, key: str, village_home: bool) -> None:
        rng, clock = self.rng, self.clock
        settings = clinical.CONDITION_VISIT_SETTINGS[key]
        level, _, dept = self.setting(settings, village_home)
        winter_factor = clinical.CONDITION_WINTER.get(code, 1.0)
        day = clock.busy_day(rng)
        if winter_factor > 1 and not clock.winter[day] and rng.random() < (winter_factor - 1):
            day = clock.busy_day(rng)
        kind = HOME_VISIT if level == "village" and rng.random() < 0.1 else OUTPATIENT
        self.visit(p, level, kind, self.clinic_minute(day), [code], dept)

    def setting(self, settings: list[clinical.Setting], village_home: bool) -> clinical.Setting:
        options = [s for s in settings if village_home or s[0] != "village"]
        total = sum(s[1] for s in options)
        r = self.rng.random() * total
        for s in options:
            r -= s[1]
            if r < 0:
                return s
        return options[-1]

    def condition_admission(self, p: Person, age: int, code: str, key: str, conditions: dict) -> None:
        rng = self.rng
        level, _, dept = self.setting(clinical.CONDITION_ADMISSION_SETTINGS[key], True)
        codes = [code]
        if key == "CANCER":
            if rng.random() < clinical.CHEMOTHERAPY_SHARE:
                codes = [clinical.CHEMOTHERAPY, code]
            else:
                dept = clinical.CANCER_SURGERY_DEPARTMENT.get(code, dept)
        self.admission(p, level, codes, dept, winter=clinical.CONDITION_WINTER.get(code, 1.0))

    def acute_admission(self, p: Person, age: int, level: str) -> None:
        day = self.clock.busy_day(self.rng)
        menu_level = level if level != "tcm" or self.county.tcm else "tcm"
        entry = self.menu(f"{menu_level}:ip", clinical.INPATIENT_MENUS[menu_level], age, p.sex,
                          self.clock.winter[day])
        if entry is None:
            level = "lead"
            entry = self.menu("lead:ip", clinical.LEAD_INPATIENT, age, p.sex, self.clock.winter[day])
            assert entry is not None
        self.admission(p, level, [entry[0]], entry[5], day=day)

    def admission(self, p: Person, level: str, codes: list[str], dept: str | None, *, day: int | None = None,
                  winter: float = 1.0) -> Visit:
        rng, clock = self.rng, self.clock
        if day is None:
            day = clock.busy_day(rng)
            if winter > 1 and not clock.winter[day] and rng.random() < winter - 1:
                day = clock.busy_day(rng)
        if rng.random() < 0.4:  # through the emergency department, at any hour
            minute = day * DAY + int(rng.random() * DAY)
        else:
            minute = day * DAY + 9 * 60 + int(rng.random() * 7 * 60)
        v = self.visit(p, level, INPATIENT, minute, codes, dept)
        if v.department is None and v.site.level != "partner":
            v.department = v.site.department("03" if v.site.level == "branch" else "02")
        self.stay(v, level)
        return v

    def follow_ups(self, p: Person, age: int, managed: list[str], village_home: bool) -> None:
        """Quarterly face-to-face follow-ups of the basic public health service, at the village clinic (or
        the branch), some at home."""
        rng = self.rng
        home_share = rates.FOLLOW_UP_AT_HOME["75_plus" if age >= 75 else "under_75"]
        complaint = clinical.FOLLOW_UP_COMPLAINTS[tuple(managed)]
        for quarter in range(rates.CHRONIC_FOLLOW_UPS):
            day = quarter * 91 + int(rng.random() * 91)
            if day >= WINDOW_DAYS:
                continue
            level = "village" if village_home and rng.random() >= rates.FOLLOW_UP_AT_BRANCH else "branch"
            at_home = level == "village" and rng.random() < home_share
            kind = HOME_VISIT if at_home else OUTPATIENT
            minute = day * DAY + (9 * 60 + int(rng.random() * 8 * 60) if at_home else 0)
            if not at_home:
                minute = self.clinic_minute(day)
            v = self.visit(p, level, kind, minute, list(managed), None if level == "village" else "02")
            v.tcm = False
            v.follow_up = True
            v.complaint = complaint

    def child_checks(self, p: Person, age: int, village_home: bool) -> None:
        rng = self.rng
        n = int(self.checks[age])
        born = p.birth.toordinal() - self.clock.first_ordinal
        for _ in range(n):
            day = int(rng.random() * WINDOW_DAYS)
            if day <= born:
                day = born + 30 + int(rng.random() * max(1, WINDOW_DAYS - born - 30))
            if day >= WINDOW_DAYS:
                continue
            r = rng.random()
            level, dept = ("branch", "01") if r < 0.55 else (("village", None) if r < 0.8 and village_home else (
                "mch", "09"))
            v = self.visit(p, level, OUTPATIENT, self.clinic_minute(day), [clinical.CHILD_CHECK], dept)
            v.tcm = False

    def prenatal(self, p: Person, since: dt.date, village_home: bool) -> None:
        rng = self.rng
        day = since.toordinal() - self.clock.first_ordinal + 56
        while day < WINDOW_DAYS:
            if day >= 0:
                r = rng.random()
                level, dept = (("mch", "05.02") if r < 0.45 else ("lead", "05.02") if r < 0.6 else
                               ("branch", "05") if r < 0.9 or not village_home else ("village", None))
                v = self.visit(p, level, OUTPATIENT, self.clinic_minute(day), [clinical.PRENATAL], dept)
                v.tcm = False
            day += rates.PRENATAL_EVERY_DAYS + int(rng.random() * 9) - 4

    def delivery(self, p: Person) -> None:
        rng = self.rng
        r = rng.random()
        level = "mch" if r < rates.DELIVERY_LEVELS["mch"] else (
            "lead" if r < rates.DELIVERY_LEVELS["mch"] + rates.DELIVERY_LEVELS["lead"] else "partner")
        code = "O82" if rng.random() < rates.CAESAREAN_SHARE else "O80"
        self.admission(p, level, [code], "05.02")

    def settle_stays(self, mine: list[Visit]) -> None:
        """No two stays of one person overlap: a later admission waits for the discharge (or is dropped)."""
        stays = sorted((v for v in mine if v.kind == INPATIENT), key=lambda v: v.start)
        free_from = -1
        for v in stays:
            if v.start < free_from:
                shift = free_from + DAY - v.start
                v.start += shift
                v.end += shift
            if v.start >= END_MINUTE - 60:
                v.kind = "dropped"
                continue
            free_from = v.end

    # --- referrals -------------------------------------------------------------------------------------------
    def refer(self, p: Person, age: int, mine: list[Visit], village_home: bool) -> None:
        rng, county = self.rng, self.county
        home = county.sites[p.home]
        lead = county.lead
        for v in list(mine):
            if v.kind == "dropped":
                continue
            level = v.site.level
            if level == "lead" and v.kind == INPATIENT:
                if rng.random() < rates.UP_FOR_LEAD_ADMISSION * (1.4 if age >= 60 else 0.8):
                    sender = home if village_home and rng.random() < 0.55 else self.branch
                    self.up_to(p, age, v, sender, bed=True)
                if v.end <= END_MINUTE - DAY and any(v.codes[0].startswith(x) for x in
                                                     clinical.DOWN_REFERABLE_PREFIXES):
                    r = rng.random()
                    if r < rates.DOWN_FOR_LEAD_DISCHARGE:
                        self.down_from(p, age, v, village_home, outcome="completed")
                    elif r < rates.DOWN_FOR_LEAD_DISCHARGE + rates.DOWN_FAILED["rejected"]:
                        self.down_from(p, age, v, village_home, outcome="rejected")
                    elif r < rates.DOWN_FOR_LEAD_DISCHARGE + sum(rates.DOWN_FAILED.values()):
                        self.down_from(p, age, v, village_home, outcome="cancelled")
            elif level == "lead" and v.kind == OUTPATIENT and not v.follow_up:
                if rng.random() < rates.UP_FOR_LEAD_VISIT:
                    sender = home if village_home and rng.random() < 0.55 else self.branch
                    self.up_to(p, age, v, sender, bed=False)
                elif rng.random() < rates.GENERAL_BOOKING_SHARE:
                    booked = v.start - DAY * (1 + int(rng.random() * 7))
                    taken = self.capacity.take(v.department, v.start, bed=False, for_referral=False,
                                               booked_at=booked, look_ahead=1)
                    if taken:
                        b = self.book(taken, p, booked)
                        if rng.random() < 0.05:
                            b.status = "cancelled"
                            self.capacity.release(b.slot, b.from_reserve)
            elif level == "branch" and v.kind == OUTPATIENT and village_home and not v.follow_up:
                if rng.random() < rates.UP_FOR_BRANCH_VISIT:
                    self.up_to(p, age, v, home, bed=False)
            elif level == "partner" and v.kind == INPATIENT:
                if rng.random() < rates.OUT_WITH_SLIP:
                    self.out_of_county(p, age, v)
                if v.end <= END_MINUTE - DAY and rng.random() < rates.RETURN_FROM_PARTNER:
                    self.return_from(p, age, v, village_home)
            if level in GRASSROOTS and v.kind in (OUTPATIENT, HOME_VISIT) and not v.follow_up and (
                    rng.random() < rates.FAILED_UP_PER_GRASSROOTS_VISIT):
                self.failed_up(p, age, v, lead if level == "branch" or rng.random() < 0.7 else self.branch)
        if p.home == self.inbox_village and len(self.inbox) < rates.OPEN_INBOX_MINIMUM and 30 <= age < 80:
            self.open_request(p, age, home)

    def new_transfer(self, kind: str, p: Person, age: int, sender: Site, receiver: Site, requested: int,
                     codes: list[str], reason: str) -> Transfer:
        t = Transfer(kind, p, sender, receiver, requested)
        t.codes = codes
        t.reason = reason
        names = "、".join(self.names[c][0] for c in codes)
        sex = "男" if p.sex == "male" else "女"
        t.summary = f"患者{sex}，{age}岁。初步诊断：{names}。"
        self.transfers.append(t)
        return t

    def actor(self, site: Site, minute: int, department: int | None = None) -> tuple[int | None, str]:
        pid = self.clinician(site, department, minute)
        return pid, self.county.practitioner_names.get(pid, "") if pid else ""

    def source_visit(self, p: Person, sender: Site, minute: int, codes: list[str]) -> Visit:
        level = sender.level
        dept_code = None if level == "village" else "03"
        v = self.visit(p, level, OUTPATIENT, minute, list(codes), dept_code)
        v.tcm = False
        return v

    def up_to(self, p: Person, age: int, arrival: Visit, sender: Site, *, bed: bool) -> None:
        """An up-referral that happened: the sender saw the patient, the receiver accepted, the patient came."""
        rng = self.rng
        urgent = bed and (arrival.codes[0] in clinical.URGENT_CODES or rng.random() < rates.UP_URGENT)
        if urgent:
            seen = arrival.start - 90 - int(rng.random() * 150)
        else:
            back = 1 + int(rng.random() * (3 if bed else 5))
            seen = (arrival.start // DAY - back) * DAY + 8 * 60 + int(rng.random() * 8 * 60)
        if seen < 0:
            return
        source = self.source_visit(p, sender, seen, arrival.codes[:1])
        requested = source.end
        receiver = arrival.site
        t = self.new_transfer("up", p, age, sender, receiver, requested, arrival.codes[:2],
                              REASONS["urgent" if urgent else "up"])
        t.urgent = urgent
        t.source, t.arrival = source, arrival
        t.from_department = source.department
        t.from_practitioner = source.practitioner = self.clinician(sender, source.department, seen)
        t.to_department = arrival.department
        arrival.practitioner = self.clinician(receiver, arrival.department, arrival.start)
        t.to_practitioner = arrival.practitioner
        arrival.complaint = f"转诊：{t.reason}"
        if urgent:
            accepted = requested + 5 + int(rng.random() * 20)
        else:
            accepted = requested + 30 + int(rng.random() * (arrival.start - requested - 60))
        t.steps.append((requested, "create", "", "requested", "", sender.id, self.name(t.from_practitioner)))
        t.steps.append((accepted, "accept", "requested", "accepted", "", receiver.id,
                        self.name(t.to_practitioner)))
        t.steps.append((arrival.start, "arrive", "accepted", "arrived", "", receiver.id,
                        self.name(t.to_practitioner)))
        if arrival.end <= END_MINUTE:
            t.steps.append((arrival.end, "complete", "arrived", "completed", "", receiver.id,
                            self.name(t.to_practitioner)))
        family_doctor = sender.level in GRASSROOTS
        if receiver is self.county.lead:
            if urgent:
                taken = self.capacity.take(t.to_department, requested, bed=True, for_referral=family_doctor,
                                           booked_at=requested, look_ahead=2)
                if taken:
                    t.bed_booking = self.book(taken, p, requested)
            else:
                taken = self.capacity.take(t.to_department, arrival.start, bed=bed, for_referral=family_doctor,
                                           booked_at=accepted)
                if taken:
                    t.booking = self.book(taken, p, accepted)

    def name(self, pid: int | None) -> str:
        return self.county.practitioner_names.get(pid, "") if pid else ""

    def down_from(self, p: Person, age: int, stay: Visit, village_home: bool, *, outcome: str) -> None:
        rng, lead = self.rng, self.county.lead
        receiver = self.county.sites[p.home] if village_home and rng.random() < rates.DOWN_TO_VILLAGE else self.branch
        requested = stay.end - 60 - int(rng.random() * 120)
        codes = [c for c in stay.codes if c != clinical.CHEMOTHERAPY][:2] or stay.codes[:1]
        t = self.new_transfer("down", p, age, lead, receiver, requested, codes, REASONS["down"])
        t.source = stay
        t.from_department = stay.department
        responsible = stay.practitioner = stay.practitioner or self.clinician(lead, stay.department, stay.start)
        t.from_practitioner = responsible
        t.to_department = receiver.department("03")
        t.to_practitioner = self.clinician(receiver, t.to_department, requested)
        summary, medicines, follow_items, warnings = clinical.care_plan_for(codes[0])
        t.plan = (responsible, summary, medicines, follow_items, warnings)
        t.steps.append((requested, "create", "", "requested", "", lead.id, self.name(responsible)))
        answered = requested + 60 + int(rng.random() * 20 * 60)
        if outcome == "rejected":
            t.steps.append((answered, "reject", "requested", "rejected", rng.choice(rates.REJECT_REASONS[1:]),
                            receiver.id, self.name(t.to_practitioner)))
            return
        if outcome == "cancelled":
            t.steps.append((answered, "cancel", "requested", "cancelled", rates.CANCEL_REASONS[0], lead.id,
                            self.name(responsible)))
            return
        t.steps.append((answered, "accept", "requested", "accepted", "", receiver.id, self.name(t.to_practitioner)))
        arrival_day = stay.end // DAY + 1 + int(rng.random() * 5)
        arrive = self.clinic_minute(arrival_day)
        if arrive <= answered:
            arrive = answered + 30
        if arrive + 60 > END_MINUTE:
            return
        v = self.visit(p, receiver.level, OUTPATIENT, arrive, list(codes), "03")
        v.tcm = False
        v.practitioner = t.to_practitioner
        v.complaint = f"转诊：{t.reason}"
        v.note = t.summary
        t.arrival = v
        t.steps.append((arrive, "arrive", "accepted", "arrived", "", receiver.id, self.name(t.to_practitioner)))
        t.steps.append((v.end, "complete", "arrived", "completed", "", receiver.id, self.name(t.to_practitioner)))

    def out_of_county(self, p: Person, age: int, stay: Visit) -> None:
        """The lead hospital's slip for a partner admission, the partner's steps recorded by the lead hospital."""
        rng, lead, partner = self.rng, self.county.lead, self.county.partner
        back = 1 + int(rng.random() * 5)
        seen = self.clinic_minute(stay.start // DAY - back)
        if seen < 0:
            return
        dept_code = {"I21.9": "03.04", "I25.1": "03.04", "I48.9": "03.04", "I50.9": "03.04", "I61.9": "04.02",
                     "S06.0": "04.02", "I63.9": "03.03"}.get(stay.codes[-1], None)
        if stay.codes[-1].startswith("C"):
            dept_code = "19"
        source = self.visit(p, "lead", OUTPATIENT, seen, [c for c in stay.codes if c != clinical.CHEMOTHERAPY][:1]
                            or stay.codes[:1], dept_code or "02")
        source.tcm = False
        source.practitioner = self.clinician(lead, source.department, seen)
        t = self.new_transfer("out_of_county", p, age, lead, partner, source.end, source.codes[:1],
                              REASONS["out_of_county"])
        t.source = source
        t.from_department = source.department
        t.from_practitioner = source.practitioner
        t.to_department = stay.department
        doctor = self.name(source.practitioner)
        t.steps.append((source.end, "create", "", "requested", "", lead.id, doctor))
        accepted = source.end + 60 + int(rng.random() * (stay.start - source.end - 120))
        r = rng.random()
        if r < rates.OUT_FAILED["expired"]:  # the slip lapsed; the patient went anyway, without one
            t.steps.append((accepted, "accept", "requested", "accepted", "", lead.id, doctor))
            due = t.requested + self.county.expiry_days * DAY
            t.steps.append((due + 60 + int(rng.random() * 300), "expire", "accepted", "expired",
                            "逾期未到诊 (not arrived in time)", None, "system"))
            return
        if r < sum(rates.OUT_FAILED.values()):
            t.steps.append((accepted, "cancel", "requested", "cancelled", rng.choice(rates.CANCEL_REASONS), lead.id,
                            doctor))
            return
        t.steps.append((accepted, "accept", "requested", "accepted", "", lead.id, doctor))
        t.steps.append((stay.start, "arrive", "accepted", "arrived", "", lead.id, doctor))
        if stay.end <= END_MINUTE:
            t.steps.append((stay.end, "complete", "arrived", "completed", "", lead.id, doctor))

    def return_from(self, p: Person, age: int, stay: Visit, village_home: bool) -> None:
        """Back from out of county: recorded by the receiving side, with a care plan the lead hospital follows."""
        rng, lead, partner = self.rng, self.county.lead, self.county.partner
        receiver = lead if rng.random() < 0.4 else self.branch
        requested = stay.end - 30 - int(rng.random() * 90)
        codes = [c for c in stay.codes if c != clinical.CHEMOTHERAPY][:2] or stay.codes[:1]
        t = self.new_transfer("down", p, age, partner, receiver, requested, codes, REASONS["return"])
        dept_code = "03" if receiver.level == "branch" else {"I21.9": "03.04", "I25.1": "03.04", "I61.9": "04.02",
                                                              "I63.9": "03.03", "S72.0": "04.03"}.get(codes[0], "02")
        if codes[0].startswith("C") and receiver is lead:
            dept_code = "19"
        t.to_department = receiver.department(dept_code)
        t.to_practitioner = self.clinician(receiver, t.to_department, requested)
        responsible_dept = lead.department(dept_code) if receiver is lead else lead.department("02")
        responsible = self.clinician(lead, responsible_dept, requested)
        if responsible is None:
            return
        summary, medicines, follow_items, warnings = clinical.care_plan_for(codes[0])
        t.plan = (responsible, summary, medicines, follow_items, warnings)
        recorder = self.name(t.to_practitioner)
        t.steps.append((requested, "create", "", "requested", "", receiver.id, recorder))
        accepted = requested + 30 + int(rng.random() * 12 * 60)
        t.steps.append((accepted, "accept", "requested", "accepted", "", receiver.id, recorder))
        arrive = self.clinic_minute(stay.end // DAY + 1 + int(rng.random() * 5))
        if arrive <= accepted:
            arrive = accepted + 30
        if arrive + 60 > END_MINUTE:
            return
        v = self.visit(p, receiver.level, OUTPATIENT, arrive, list(codes), dept_code)
        v.tcm = False
        v.practitioner = t.to_practitioner
        v.complaint = f"转诊：{t.reason}"
        v.note = t.summary
        t.arrival = v
        if receiver is lead:
            taken = self.capacity.take(t.to_department, arrive, bed=False, for_referral=False, booked_at=accepted)
            if taken:
                t.booking = self.book(taken, p, accepted)
        t.steps.append((arrive, "arrive", "accepted", "arrived", "", receiver.id, recorder))
        t.steps.append((v.end, "complete", "arrived", "completed", "", receiver.id, recorder))

    def failed_up(self, p: Person, age: int, source: Visit, receiver: Site) -> None:
        """A referral that did not happen: refused, withdrawn or never used."""
        rng = self.rng
        sender = source.site
        if receiver is sender:
            return
        source.practitioner = source.practitioner or self.clinician(sender, source.department, source.start)
        t = self.new_transfer("up", p, age, sender, receiver, source.end, source.codes[:1], REASONS["up"])
        t.source = source
        t.from_department = source.department
        t.from_practitioner = source.practitioner
        t.to_department = receiver.department("03.04" if "I" in source.codes[0][:1] else "02") or (
            receiver.department("03"))
        t.to_practitioner = None
        sender_name = self.name(source.practitioner)
        t.steps.append((t.requested, "create", "", "requested", "", sender.id, sender_name))
        r = rng.random()
        answered = t.requested + 60 + int(rng.random() * 20 * 60)
        receiver_name = self.actor(receiver, answered, t.to_department)[1]
        if r < rates.FAILED_OUTCOMES["rejected"]:
            t.steps.append((answered, "reject", "requested", "rejected", rng.choice(rates.REJECT_REASONS),
                            receiver.id, receiver_name))
            return
        accepted = rng.random() < rates.FAILED_AFTER_ACCEPT
        status = "requested"
        if accepted:
            t.steps.append((answered, "accept", "requested", "accepted", "", receiver.id, receiver_name))
            status = "accepted"
            if receiver is self.county.lead:
                taken = self.capacity.take(t.to_department, answered + DAY * (1 + int(rng.random() * 3)),
                                           bed=False, for_referral=True, booked_at=answered)
                if taken:
                    t.booking = self.book(taken, p, answered)
        if r < rates.FAILED_OUTCOMES["rejected"] + rates.FAILED_OUTCOMES["cancelled"]:
            when = answered + 60 + int(rng.random() * 2 * DAY)
            t.steps.append((when, "cancel", status, "cancelled", rng.choice(rates.CANCEL_REASONS), sender.id,
                            sender_name))
        else:
            due = t.requested + self.county.expiry_days * DAY
            t.steps.append((due + 60 + int(rng.random() * 300), "expire", status, "expired",
                            "逾期未到诊 (not arrived in time)", None, "system"))

    def open_request(self, p: Person, age: int, home: Site) -> None:
        """A request of the day before the as-of day still waiting in a receiver's inbox (so that even the demo
        county's village doctor, township doctor and cardiologist have some)."""
        rng = self.rng
        sender_level, receiver_level, code, department = OPEN_REQUESTS[len(self.inbox) % len(OPEN_REQUESTS)]
        sender = home if sender_level == "village" else self.branch
        receiver = self.branch if receiver_level == "branch" else self.county.lead
        minute = (WINDOW_DAYS - 1) * DAY + 8 * 60 + int(rng.random() * 8 * 60)
        source = self.source_visit(p, sender, minute, [code])
        source.practitioner = self.clinician(sender, source.department, minute)
        t = self.new_transfer("up", p, age, sender, receiver, source.end, [code], REASONS["up"])
        t.source = source
        t.from_department, t.from_practitioner = source.department, source.practitioner
        t.to_department = receiver.department(department)
        t.steps.append((t.requested, "create", "", "requested", "", sender.id, self.name(source.practitioner)))
        self.inbox.append(t)

    def book(self, taken: tuple[int, bool], p: Person, minute: int) -> BookingDraft:
        b = BookingDraft(taken[0], p.id, taken[1], minute)
        self.bookings.append(b)
        return b

    def settle_transfers(self) -> None:
        """Steps after the end of the year have not happened yet; bookings of referrals that ended without the
        patient are released (as the services release them)."""
        for t in self.transfers:
            steps = [s for s in t.steps if s[0] <= END_MINUTE]
            if len(steps) != len(t.steps):
                t.steps = steps
                if t.arrival is not None and t.status not in ("arrived", "completed"):
                    t.arrival = None
            if t.status in ("rejected", "cancelled", "expired"):
                for b in (t.booking, t.bed_booking):
                    if b is not None and b.status == "booked":
                        b.status = "cancelled"
                        self.capacity.release(b.slot, b.from_reserve)
            if t.status == "requested" and t.booking is not None and t.booking.status == "booked":
                self.capacity.release(t.booking.slot, t.booking.from_reserve)
                t.booking.status = "cancelled"

    # --- the whole township ----------------------------------------------------------------------------------
    def run(self, people: list[Person], delivery_scale: float) -> None:
        self.people = people
        self.delivery_scale = delivery_scale
        for p in people:
            self.person_year(p)
        self.visits = [v for v in self.visits if v.kind != "dropped"]
        self.settle_transfers()


def _complaint_variants(templates: tuple[str, ...]) -> list[str]:
    """Every template with its number filled in each way it can be (1-7 days, 1-4 weeks, 1-12 months or hours)."""
    out = []
    for text in templates:
        if "{" not in text:
            out.append(text)
            continue
        for n in range(1, 13):
            values = {"d": min(n, 7), "w": min(n, 4), "m": n, "h": n}
            out.append(text.format(**values))
    return out


def delivery_scale(people: list[Person], as_of: dt.date) -> float:
    """Scale on age-specific fertility so that births = crude birth rate × residents."""
    fertility = rates.per_year(rates.FERTILITY_BY_AGE)
    total = 0.0
    for p in people:
        if p.sex == "female":
            age = as_of.year - p.birth.year
            if 20 <= age < 45 and KeyPopulation.PREGNANT not in p.tags:
                total += fertility[age]
    return (len(people) * rates.CRUDE_BIRTH_RATE / total) if total else 0.0


# --- rows -------------------------------------------------------------------------------------------------
COUNTY_CONDITIONS = frozenset({"N18.9", "B18.1", "A16.2", "F20.9", "I48.9", "I50.9"})


ZERO_COST = ("0.00",) * 6
BILLS_PER_KIND = 2048
UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # as county.new_uuid, inlined where rows are made by the million
UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def split_cost(rng: random.Random, total: float, shares: tuple[float, ...], floats: bool) -> tuple[str, ...]:
    """Five parts (drugs, exams, treatment, beds, other) and their sum as 2-place decimal strings. Two draws
    move weight between drugs and treatment and between exams and other; the parts add up exactly. With
    `floats` (SQLite, which keeps the columns as REAL and checks cost_total = the sum there) the parts are
    nudged a cent at a time, without drawing, until they also add up in binary floating point; failing that,
    whole half-yuan amounts do."""
    whole = int(total * 100)
    drugs, exams, treatment, beds, other = shares
    shift = (rng.random() - 0.5) * 0.4 * min(drugs, treatment)
    drugs, treatment = drugs + shift, treatment - shift
    shift = (rng.random() - 0.5) * 0.4 * min(exams, other)
    exams, other = exams + shift, other - shift
    cents = [int(whole * drugs), int(whole * exams), int(whole * treatment), int(whole * beds), 0]
    cents[4] = whole - cents[0] - cents[1] - cents[2] - cents[3]
    if floats:
        exact = float(money(whole))
        paying = [k for k, c in enumerate(cents) if c > 0]
        for attempt in range(40):
            f = [float(money(c)) for c in cents]
            if exact == ((((f[0] + f[1]) + f[2]) + f[3]) + f[4]):
                break
            giver, taker = paying[attempt % len(paying)], paying[(attempt + 1) % len(paying)]
            if cents[giver] > 1:
                cents[giver] -= 1
                cents[taker] += 1
        else:
            cents = [c - c % 50 for c in cents]  # multiples of 0.5 are exact in binary
            whole = sum(cents)
    return (money(cents[0]), money(cents[1]), money(cents[2]), money(cents[3]), money(cents[4]), money(whole))


class Bills:
    """Bills for visits, a few thousand per level and kind, drawn once per county from their own stream: the
    same amounts recur (as the fees of a clinic do) and a visit's bill costs a lookup."""

    def __init__(self, seed: int, floats: bool) -> None:
        self.rng = stream(seed, "activity", "bills")
        self.floats = floats
        self.drawn: dict[tuple[str, str], list[tuple[str, ...]]] = {}

    def pick(self, key: tuple[str, str], rng: random.Random) -> tuple[str, ...]:
        bills = self.drawn.get(key)
        if bills is None:
            bills = self.drawn[key] = [self.draw(key) for _ in range(BILLS_PER_KIND)]
        return bills[int(rng.random() * BILLS_PER_KIND)]

    def draw(self, key: tuple[str, str]) -> tuple[str, ...]:
        rng = self.rng
        if key[0] == "follow-up":  # the public-health visit is free; some take their medicines home
            if rng.random() < 0.4:
                return ZERO_COST
            return split_cost(rng, 30 + rng.random() * 50, (1.0, 0, 0, 0, 0), self.floats)
        if key[0] == "prenatal":
            return split_cost(rng, 80 + rng.random() * 150, (0.1, 0.9, 0, 0, 0), self.floats)
        total = rates.COST_MEDIAN[key] * math.exp(rates.COST_SPREAD[key[1]] * NORMAL[int(rng.random() * 4096)])
        return split_cost(rng, total, rates.COST_SPLIT[key[0]], self.floats)


POOL = 1024


class Readings:
    """Measurements drawn once per county from their own stream, a thousand of each kind: a visit's readings
    are lookups. Blood pressure of non-hypertensives rises with age (one pool per decade)."""

    def __init__(self, seed: int) -> None:
        rng = stream(seed, "activity", "readings")

        def z() -> float:
            return NORMAL[int(rng.random() * 4096)]

        def flag(value: float, low: float, high: float) -> str:
            return "H" if value > high else ("L" if value < low else "N")

        def pressures(systolic: float, diastolic: float, spread: tuple[float, float]) -> list[list[tuple]]:
            out = []
            for _ in range(POOL):
                sys_ = int(min(220, max(85, systolic + spread[0] * z())))
                dia = int(min(130, max(50, min(diastolic + spread[1] * z(), sys_ - 20))))
                out.append([(clinical.SYSTOLIC, str(sys_), flag(sys_, 90, 139)),
                            (clinical.DIASTOLIC, str(dia), flag(dia, 60, 89))])
            return out

        # by decade of age 0-9 .. 90+, then hypertensives last
        self.pressure = [pressures(112 + 0.45 * max(0, decade * 10 + 5 - 20), 72 + 0.15 * max(0, decade * 10 + 5 - 20),
                                   (11, 8)) for decade in range(10)]
        self.pressure.append(pressures(142, 86, (15, 10)))

        def pool(spec: tuple, make: Callable[[], float], low: float, high: float, digits: int) -> list[tuple]:
            values = [make() for _ in range(POOL)]
            return [(spec, f"{x:.{digits}f}", flag(x, low, high)) for x in values]

        self.heart_rate = pool(clinical.HEART_RATE, lambda: min(150, max(45, round(78 + 10 * z()))), 60, 100, 0)
        self.fever = pool(clinical.TEMPERATURE, lambda: 38.0 + rng.random() * 1.8, 36.0, 37.3, 1)
        self.temperature = pool(clinical.TEMPERATURE, lambda: min(37.2, max(35.8, 36.6 + 0.25 * z())), 36.0, 37.3, 1)
        self.breathing = pool(clinical.RESPIRATORY_RATE, lambda: min(30, max(12, round(18 + 2 * z()))), 12, 20, 0)
        self.glucose = pool(clinical.FASTING_GLUCOSE, lambda: min(20.0, max(4.0, 7.6 + 1.7 * z())), 3.9, 6.1, 1)
        self.pregnant_weight = [(clinical.WEIGHT, f"{max(40.0, 64 + 8 * z()):.1f}", "") for _ in range(POOL)]
        self.women_weight = [(clinical.WEIGHT, f"{max(35.0, 58 + 8 * z()):.1f}", "") for _ in range(POOL)]
        self.men_weight = [(clinical.WEIGHT, f"{max(35.0, 67 + 8 * z()):.1f}", "") for _ in range(POOL)]


class Emitter:
    """Turns a township's drafts into rows, with ids, and loads them."""

    def __init__(self, year: TownshipYear, loader: BulkLoader, slot_first: int, bills: Bills,
                 readings: Readings) -> None:
        self.year, self.loader, self.slot_first, self.bills = year, loader, slot_first, bills
        self.readings = readings
        self.county, self.clock, self.rng = year.county, year.clock, year.rng
        self.cid = self.county.community_id
        self.names = year.names
        self.counts: dict[str, int] = {}
        self.floats = loader.vendor == "sqlite"

    # --- finishing a visit: who saw the patient, what was recorded, what it cost ----------------------------
    def finish(self, v: Visit, conditions: dict[str, dt.date], age: int) -> None:
        rng, year = self.rng, self.year
        if not v.claim and v.practitioner is None:
            v.practitioner = year.clinician(v.site, v.department, v.start)
        primary = v.codes[0]
        if primary not in (clinical.CHILD_CHECK, clinical.PRENATAL) and not v.follow_up and conditions:
            chance = 0.85 if v.kind == INPATIENT else 0.35
            extra = [c for c in conditions if c not in v.codes and rng.random() < chance][:3]
            if extra:
                v.codes = v.codes + extra
        if not v.complaint:
            variants = year.complaints.get(primary)
            v.complaint = variants[int(rng.random() * len(variants))] if variants else self.names[primary][0]
        if v.kind == INPATIENT and v.end <= END_MINUTE:
            v.note = v.note or f"住院{v.los}天，{'好转' if rng.random() < 0.7 else '治愈'}出院。"
        if not v.claim:
            v.vitals = self.vitals(v, conditions, age)

    def vitals(self, v: Visit, conditions: dict[str, dt.date], age: int) -> list[tuple]:
        r = self.rng.random
        pools = self.readings
        out: list[tuple] = []
        primary = v.codes[0]
        inpatient = v.kind == INPATIENT
        hypertensive = "I10" in conditions
        if hypertensive:  # at every follow-up, often otherwise
            pressure = v.follow_up or r() < (0.2 if v.site.level == "village" else 0.35)
        else:
            pressure = age >= 35 and v.site.level != "village" and r() < 0.1
        if pressure or inpatient or primary == clinical.PRENATAL:
            pool = pools.pressure[-1 if hypertensive else min(age // 10, 9)]
            out.extend(pool[int(r() * POOL)])
            if inpatient or r() < 0.1:
                out.append(pools.heart_rate[int(r() * POOL)])
        if inpatient or (primary in clinical.FEVER_CODES and (age < 15 or r() < 0.3)):
            fever = primary in clinical.FEVER_CODES and r() < (0.8 if primary == "R50.9" else 0.4)
            out.append((pools.fever if fever else pools.temperature)[int(r() * POOL)])
        if inpatient:
            out.append(pools.breathing[int(r() * POOL)])
        if "E11.9" in conditions and (v.follow_up or (v.site.level in ("branch", "lead") and r() < 0.2)):
            out.append(pools.glucose[int(r() * POOL)])
        if primary == clinical.CHILD_CHECK:
            months = age * 12 + int(r() * 12)
            if months < 12:
                weight, height = 3.3 + 0.6 * months, 50 + 2.2 * months
            else:
                weight, height = 10 + 2.0 * (months - 12) / 12, 75 + 7.0 * (months - 12) / 12
            out.append((clinical.WEIGHT, f"{weight * (0.9 + 0.2 * r()):.1f}", ""))
            out.append((clinical.HEIGHT, f"{height * (0.96 + 0.08 * r()):.1f}", ""))
        elif primary == clinical.PRENATAL:
            out.append(pools.pregnant_weight[int(r() * POOL)])
        elif v.follow_up and r() < 0.1:
            out.append((pools.women_weight if v.person.sex == "female" else pools.men_weight)[int(r() * POOL)])
        return out

    def cost(self, v: Visit) -> tuple[str, ...]:
        """The bill. A stay is billed by its length; a visit's bill is one of a few thousand drawn for its level
        and kind (as many distinct bills as a clinic sees, at a lookup's cost per visit)."""
        rng = self.rng
        level = v.site.level
        primary = v.codes[0]
        if v.kind == INPATIENT:
            total = rates.COST_MEDIAN[(level, INPATIENT)] * math.exp(
                rates.COST_SPREAD[INPATIENT] * NORMAL[int(rng.random() * 4096)])
            total *= 0.45 + 0.55 * v.los / rates.STAY_DAYS.get(level, 8.0)
            if primary in clinical.DELIVERY_CODES:
                total *= 0.45 if primary == "O80" else 0.8
            if v.end > END_MINUTE:  # still in hospital: the bill so far
                total *= max(0.1, (END_MINUTE - v.start) / max(1, v.end - v.start))
            return split_cost(rng, total, rates.COST_SPLIT_INPATIENT.get(level, rates.COST_SPLIT_INPATIENT["lead"]),
                              self.floats)
        if primary == clinical.CHILD_CHECK:
            return ZERO_COST
        if v.follow_up:
            key: tuple[str, str] = ("follow-up", "")
        elif primary == clinical.PRENATAL:
            key = ("prenatal", "")
        else:
            key = (level, v.kind if (level, v.kind) in rates.COST_MEDIAN else OUTPATIENT)
        return self.bills.pick(key, rng)

    # --- loading ---------------------------------------------------------------------------------------------
    def load(self, model: type[Model], columns: tuple[str, ...], rows: Iterator[tuple] | list[tuple]) -> None:
        n = self.loader.load(model, columns, rows)
        self.counts[model._meta.label] = self.counts.get(model._meta.label, 0) + n

    def run(self) -> dict[str, int]:
        year, clock, rng, cid = self.year, self.clock, self.rng, self.cid
        at = clock.text
        as_of = year.as_of
        # the visits of each resident (in resident order, everyone: a patient not seen this year still has a
        # problem list), in time order
        by_person: dict[int, list[Visit]] = {p.id: [] for p in year.people}
        for v in year.visits:
            by_person[v.person.id].append(v)
        groups = [(p, by_person[p.id]) for p in year.people]
        for p, g in groups:
            g.sort(key=lambda v: v.start)
            age = as_of.year - p.birth.year - ((as_of.month, as_of.day) < (p.birth.month, p.birth.day))
            conditions = year.conditions_of.get(p.id, {})
            for v in g:
                self.finish(v, conditions, age)
        visits = [v for _, g in groups for v in g]
        first = self.loader.reserve_ids(Encounter, len(visits))
        for k, v in enumerate(visits):
            v.id = first + k
        diagnosis_id = self.loader.reserve_ids(Diagnosis, sum(len(v.codes) for v in visits))
        observation_id = self.loader.reserve_ids(Observation, sum(len(v.vitals) for v in visits))
        encounters: list[tuple] = []
        diagnoses: list[tuple] = []
        observations: list[tuple] = []
        problems: list[tuple] = []
        display = {code: name for code, (name, _) in self.names.items()}
        bits = rng.getrandbits
        texts = clock.texts
        add_encounter, add_diagnosis, add_observation = encounters.append, diagnoses.append, observations.append
        cost = self.cost
        for p, g in groups:
            pid = p.id
            first_seen: dict[str, Visit] = {}
            for v in g:
                vid, doctor = v.id, v.practitioner
                started = texts.get(v.start) or at(v.start)
                done = v.kind != INPATIENT or v.end <= END_MINUTE
                ended = (texts.get(v.end) or at(v.end)) if done else None
                add_encounter((
                    vid, f"{bits(128) & UUID_CLEAR | UUID_SET:032x}", cid, pid, v.site.id, v.department, doctor,
                    v.kind, "finished" if done else "in-progress", "claim" if v.claim else "clinical", started,
                    ended, v.ward, v.complaint, v.note, v.tcm, *cost(v), 1, started, ended or started))
                v.first_diagnosis = diagnosis_id
                primary = True
                for code in v.codes:
                    add_diagnosis((diagnosis_id, f"{bits(128) & UUID_CLEAR | UUID_SET:032x}", cid, vid, pid, code,
                                   display[code], primary, started, doctor))
                    primary = False
                    diagnosis_id += 1
                    if code not in first_seen:
                        first_seen[code] = v
                if v.vitals:
                    effective = texts.get(v.start + 5) or at(v.start + 5)
                    org = v.site.id
                    for (code, name, unit, low, high, category), value, flag in v.vitals:
                        add_observation((observation_id, f"{bits(128) & UUID_CLEAR | UUID_SET:032x}", cid, pid,
                                         vid, category, code, name, value, unit, "", low, high, flag, "final",
                                         effective, org, doctor, effective))
                        observation_id += 1
            problems.extend(self.problem_rows(p, g, first_seen))
        self.load(Encounter, ENCOUNTER_COLUMNS, encounters)
        self.load(Diagnosis, DIAGNOSIS_COLUMNS, diagnoses)
        self.load(Observation, OBSERVATION_COLUMNS, observations)
        problem_first = self.loader.reserve_ids(Problem, len(problems))
        self.load(Problem, PROBLEM_COLUMNS, ((problem_first + k, *row) for k, row in enumerate(problems)))
        del encounters, diagnoses, observations, problems
        self.referral_rows()
        return self.counts

    def problem_rows(self, p: Person, visits: list[Visit], first_seen: dict[str, Visit]) -> list[tuple]:
        """Conditions the resident has (known before the year unless first diagnosed in it), then every other
        chronic code diagnosed in the year, each once (one active problem per code)."""
        rng, clock, cid, names = self.rng, self.clock, self.cid, self.names
        conditions = self.year.conditions_of.get(p.id, {})
        rows = []
        home = self.county.sites[p.home]
        first_day = clock.first_day
        for code, onset in conditions.items():
            v = first_seen.get(code)
            if v is not None and onset >= first_day and v.start // DAY >= onset.toordinal() - clock.first_ordinal:
                recorded, org, doctor, source = (clock.text(v.start), v.site.id, v.practitioner,
                                                 v.first_diagnosis + v.codes.index(code))
            else:
                org = self.county.lead.id if (code in COUNTY_CONDITIONS or code.startswith("C")) else home.id
                recorded = dt.datetime.combine(onset, dt.time(9, 0), tzinfo=LOCAL).astimezone(UTC)
                doctor, source = None, None
            rows.append((new_uuid(rng), cid, p.id, code, names[code][0], "active", onset, recorded, None, org, doctor,
                         source, 1))
        for code, v in first_seen.items():
            if code in conditions or not names[code][1]:
                continue
            rows.append((new_uuid(rng), cid, p.id, code, names[code][0], "active", clock.day_of(v.start),
                         clock.text(v.start), None, v.site.id, v.practitioner,
                         v.first_diagnosis + v.codes.index(code), 1))
        return rows

    def referral_rows(self) -> None:
        year, clock, rng, cid, county = self.year, self.clock, self.rng, self.cid, self.county
        at = clock.text
        booking_first = self.loader.reserve_ids(Booking, len(year.bookings))
        for k, b in enumerate(year.bookings):
            b.id = booking_first + k
        self.load(Booking, BOOKING_COLUMNS, [
            (b.id, new_uuid(rng), cid, self.slot_first + b.slot, b.person, b.from_reserve, b.status, at(b.booked),
             None) for b in year.bookings])
        transfers = year.transfers
        first = self.loader.reserve_ids(Referral, len(transfers))
        for k, t in enumerate(transfers):
            t.id = first + k
        referrals, events, plans, access = [], [], [], []
        access_days, follow_days = county.access_days, county.follow_days
        for t in transfers:
            steps = t.steps
            stamps: dict[str, int] = {}
            for minute, _, _, target, _, _, _ in steps:
                stamps[target] = minute
            status = t.status
            closed = stamps.get(status) if status in ("rejected", "cancelled", "expired") else None
            diagnoses = [{"code": c, "display": self.names[c][0], "primary": i == 0} for i, c in enumerate(t.codes)]
            requested = at(t.requested)
            slip = ""
            if t.kind == "out_of_county":
                slip = f"{t.from_site.division_code[:6]}{clock.day_of(t.requested):%Y%m%d}{t.id:06d}"
            referrals.append((
                t.id, new_uuid(rng), cid, t.person.id, t.kind, status, t.urgent, t.from_site.id, t.from_department,
                t.from_practitioner, t.to_site.id, t.to_department, t.to_practitioner,
                t.source.id if t.source else None, t.arrival.id if t.arrival else None, t.reason, t.summary,
                diagnoses, requested, _at(at, stamps.get("accepted")), _at(at, stamps.get("arrived")),
                _at(at, stamps.get("completed")), _at(at, closed),
                at(t.requested + county.expiry_days * DAY), steps[-1][4] if closed is not None else "",
                t.booking.id if t.booking else None, t.bed_booking.id if t.bed_booking else None, slip, None,
                len(steps), at(steps[-1][0])))
            for minute, action, source, target, reason, org, who in steps:
                events.append((t.id, at(minute), action, source, target, reason, None, who, org))
            access.append((cid, t.person.id, t.to_site.id, t.to_practitioner, "referral", t.id, requested,
                           at(closed) if closed is not None else at(t.requested + access_days * DAY)))
            if t.plan is not None:
                responsible, summary, medicines, follow_items, warnings = t.plan
                day = clock.day_of(t.requested)
                period_end = day + dt.timedelta(days=follow_days)
                follow_up = [{"due": (day + dt.timedelta(days=d)).isoformat(), "what": what}
                             for d, what in zip(clinical.FOLLOW_UP_DAYS, follow_items, strict=False)]
                plan_status = ("revoked" if closed is not None else
                               "completed" if period_end < year.as_of else "active")
                plans.append((cid, t.id, t.person.id, diagnoses, summary, medicines, follow_up, warnings,
                              responsible, county.lead.id, plan_status, period_end, requested))
                # a plan whose referral closed before arrival is revoked, and its care-team access ends then
                access.append((cid, t.person.id, None, responsible, "care_team", t.id, requested,
                               at(closed) if closed is not None else clock.end_of_local_day(period_end)))
        self.load(Referral, REFERRAL_COLUMNS, referrals)
        event_first = self.loader.reserve_ids(ReferralEvent, len(events))
        self.load(ReferralEvent, EVENT_COLUMNS, ((event_first + k, *e) for k, e in enumerate(events)))
        plan_first = self.loader.reserve_ids(CarePlan, len(plans))
        self.load(CarePlan, CARE_PLAN_COLUMNS,
                  ((plan_first + k, new_uuid(rng), *row, 1) for k, row in enumerate(plans)))
        access_first = self.loader.reserve_ids(CareAccess, len(access))
        self.load(CareAccess, ACCESS_COLUMNS, ((access_first + k, *row) for k, row in enumerate(access)))


def _at(at: Callable[[int], str], minute: int | None) -> str | None:
    return at(minute) if minute is not None else None


# --- the whole county -------------------------------------------------------------------------------------
@dataclass
class ActivityCounts:
    rows: dict[str, int] = field(default_factory=dict)
    residents: int = 0


def inbox_village(county: CountyView) -> int | None:
    """The village clinic with most residents (the demo's village doctor works there)."""
    counts: dict[int, int] = {}
    for people in county.people.values():
        for p in people:
            if county.sites[p.home].level == "village":
                counts[p.home] = counts.get(p.home, 0) + 1
    return min(counts, key=lambda org: (-counts[org], org)) if counts else None


def load_activity(community_id: int, *, seed: int, as_of: dt.date, loader: BulkLoader,
                  advance: Callable[[int], None] | None = None) -> ActivityCounts:
    """Generate and load a year of activity for a generated county (its organisations, staff, residents and
    tags must be in the database). Same county, seed and as-of date -> same rows."""
    county = read_county(community_id, using=loader.connection.alias)
    clock = Clock(as_of, "+00" if loader.vendor == "postgresql" else "")
    capacity = Capacity(county.lead, clock, county.reserved_share, county.release_hours)
    slot_first = loader.reserve_ids(Slot, len(capacity.meta))
    everyone = [p for people in county.people.values() for p in people]
    scale = delivery_scale(everyone, as_of)
    village = inbox_village(county)
    bills = Bills(seed, loader.vendor == "sqlite")
    readings = Readings(seed)
    result = ActivityCounts(residents=len(everyone))
    for branch in county.branches:
        people = county.people[branch.id]
        year = TownshipYear(county, clock, capacity, branch, as_of, seed, village)
        year.run(people, scale)
        counts = Emitter(year, loader, slot_first, bills, readings).run()
        for label, n in counts.items():
            result.rows[label] = result.rows.get(label, 0) + n
        if advance:
            advance(len(people))
    rng = stream(seed, "activity", "slots")
    future = fill_future_slots(capacity, everyone, rng)
    booking_first = loader.reserve_ids(Booking, len(future))
    cid = county.community_id
    n = loader.load(Booking, BOOKING_COLUMNS, [
        (booking_first + k, new_uuid(rng), cid, slot_first + b.slot, b.person, False, "booked", clock.text(b.booked),
         None) for k, b in enumerate(future)])
    result.rows["referrals.Booking"] = result.rows.get("referrals.Booking", 0) + n
    lead = county.lead
    n = loader.load(Slot, SLOT_COLUMNS, [
        (slot_first + k, new_uuid(rng), cid, lead.id, dept, None, kind, label, clock.text(starts), clock.text(ends),
         capacity.capacity[k], capacity.reserved[k], capacity.general[k], capacity.from_reserve[k],
         clock.text(starts - rates.SLOTS_AHEAD_DAYS * DAY))
        for k, (dept, kind, label, starts, ends) in enumerate(capacity.meta)])
    result.rows["referrals.Slot"] = n
    return result


def fill_future_slots(capacity: Capacity, everyone: list[Person], rng: random.Random) -> list[BookingDraft]:
    """Sessions from the as-of day on are partly booked already (general places: residents booking ahead)."""
    adults = [p for p in everyone if p.birth.year < capacity.clock.first_day.year - 14] or everyone
    bookings = []
    low, high = rates.FUTURE_FILL
    for slot, (_, kind, _, starts, _) in enumerate(capacity.meta):
        if kind != "clinic" or starts < END_MINUTE:
            continue
        room = capacity.capacity[slot] - capacity.reserved[slot] - capacity.general[slot]
        for _ in range(int(room * (low + (high - low) * rng.random()))):
            capacity.general[slot] += 1
            person = adults[int(rng.random() * len(adults))]
            bookings.append(BookingDraft(slot, person.id, False, END_MINUTE - int(rng.random() * 3 * DAY)))
    return bookings
