"""The residents of the generated county: age and sex, families and households, names, national IDs,
phones, insurance, key-population tags, other identifiers.

Each township is generated and loaded on its own (its own RNG stream), so memory stays flat and a
progress bar can move. Within a township: draw people from the age-sex structure, marry them, give
children to couples of a fitting age (or to grandparents: left-behind children), let some widowed elders
live with a child, then put households into villages (or the town seat).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from countycare.core import nationalid
from countycare.core.codes import IdentifierType, InsuranceScheme, KeyPopulation
from countycare.registry.models import Household, Resident, ResidentIdentifier, ResidentTag

from . import rates
from .county import CountyPlan, Township, new_uuid, stream
from .load import BulkLoader
from .names import NameMaker
from .places import RELATIONS

HOUSEHOLD_COLUMNS = ("id", "uuid", "community_id", "code", "address", "village_code", "home_organization_id")
RESIDENT_COLUMNS = (
    "id",
    "uuid",
    "community_id",
    "name",
    "name_pinyin",
    "name_initials",
    "sex",
    "birth_date",
    "national_id",
    "phone",
    "address",
    "village_code",
    "household_id",
    "relation_to_head",
    "home_organization_id",
    "insurance_scheme",
    "insurance_number",
    "merged_into_id",
    "version",
    "created_at",
    "updated_at",
)
TAG_COLUMNS = ("id", "resident_id", "tag", "since")
IDENTIFIER_COLUMNS = ("id", "resident_id", "type", "value")
MOBILE_PREFIXES = ("13", "15", "17", "18", "19")
MARRIED = rates.per_year(rates.MARRIED_BY_AGE)
PHONE = rates.per_year(rates.PHONE_BY_AGE)
HYPERTENSION = rates.per_year(rates.HYPERTENSION_BY_AGE)
DIABETES = rates.per_year(rates.DIABETES_BY_AGE)
DISABLED = rates.per_year(rates.DISABLED_BY_AGE)
FERTILITY = rates.per_year(rates.FERTILITY_BY_AGE)


class NationalIdMaker:
    """`nationalid.build` with the weighted sums of the county and date parts cached: the check character
    is a sum over digits, so only the three sequence digits change per person. Same output as build()."""

    def __init__(self, division_code: str) -> None:
        self.division_code = division_code
        self.county_sum = self._weighted(division_code, 0)
        self.date_sums: dict[dt.date, tuple[str, int]] = {}
        self.sequence_sums = [self._weighted(f"{n:03d}", 14) for n in range(1000)]

    @staticmethod
    def _weighted(digits: str, offset: int) -> int:
        return sum(
            int(d) * w for d, w in zip(digits, nationalid.WEIGHTS[offset : offset + len(digits)], strict=True)
        )

    def build(self, birth: dt.date, sequence: int, sex: str) -> str:
        date_part = self.date_sums.get(birth)
        if date_part is None:
            text = f"{birth:%Y%m%d}"
            date_part = self.date_sums[birth] = (text, self._weighted(text, 6))
        male = sex == "male"
        last = (sequence * 10 + (1 if male else 0)) % 1000
        if (last % 2 == 1) != male:
            last = (last + 1) % 1000
        total = self.county_sum + date_part[1] + self.sequence_sums[last]
        return f"{self.division_code}{date_part[0]}{last:03d}{nationalid.CHECK_CHARS[total % 11]}"


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def anniversary(birth: dt.date, years: int) -> dt.date:
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # 29 February
        return birth.replace(year=birth.year + years, day=28)


@dataclass
class CountyState:
    """What must stay unique across townships."""

    ids: NationalIdMaker
    id_sequences: dict[tuple[dt.date, str], int] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)
    insurance_seq: int = 0
    certificate_seq: int = 0
    passports: set[str] = field(default_factory=set)


@dataclass
class Person:
    birth: dt.date
    age: int
    sex: str
    surname: str = ""
    household: int = -1
    relation: str = ""


@dataclass
class TownshipRows:
    households: list[tuple] = field(default_factory=list)
    residents: list[tuple] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)
    identifiers: list[tuple] = field(default_factory=list)


class TownshipGenerator:
    def __init__(self, plan: CountyPlan, township: Township, index: int, state: CountyState) -> None:
        self.plan = plan
        self.township = township
        self.state = state
        self.rng = stream(plan.seed, "people", index)
        self.names = NameMaker(stream(plan.seed, "names", index))
        self.as_of = plan.as_of
        self.people: list[Person] = []
        self.households: list[list[int]] = []  # member indices, head first

    # --- who lives here -----------------------------------------------------------------------------------
    def draw_people(self) -> None:
        rng, as_of = self.rng, self.as_of.toordinal()
        bands = rates.AGE_BANDS
        cum = list(accumulate(w for _, _, w in bands))
        for _ in range(self.township.population):
            low, high, _ = bands[bisect(cum, rng.random() * cum[-1])]
            age = rng.randint(low, high)
            birth = dt.date.fromordinal(as_of - int((age + rng.random()) * 365.2425))
            age = age_on(birth, self.as_of)
            sex = "male" if rng.random() < rates.male_share(age) else "female"
            self.people.append(Person(birth, age, sex))

    def form_households(self) -> None:
        rng, people = self.rng, self.people
        women: dict[int, list[int]] = {}
        for i, p in enumerate(people):
            if p.sex == "female" and p.age >= 20:
                women.setdefault(p.age, []).append(i)
        couples: list[list[int]] = []  # [husband, wife, *others]
        married = set()
        offsets = (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5)
        for i, p in enumerate(people):
            if p.sex != "male" or p.age < 20 or rng.random() >= MARRIED[p.age]:
                continue
            target = p.age - rng.choice((-2, -1, 0, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6))
            for off in offsets:
                bucket = women.get(target + off)
                if bucket:
                    wife = bucket.pop()
                    couples.append([i, wife])
                    married.update((i, wife))
                    break
        by_wife_age: dict[int, list[int]] = {}
        by_husband_age: dict[int, list[int]] = {}
        for c, (h, w) in enumerate(couples):
            by_wife_age.setdefault(people[w].age, []).append(c)
            by_husband_age.setdefault(people[h].age, []).append(c)
        kids = [0] * len(couples)

        def find(
            bucket_map: dict[int, list[int]], ages: list[int], limit: int, counts: list[int]
        ) -> int | None:
            for a in ages:
                bucket = bucket_map.get(a)
                while bucket:
                    k = rng.randrange(len(bucket))
                    c = bucket[k]
                    if counts[c] < limit:
                        return c
                    bucket[k] = bucket[-1]
                    bucket.pop()
            return None

        singles: list[int] = []
        elders: list[int] = []
        for i, p in enumerate(people):
            if i in married:
                continue
            if p.age < 18 or (p.age < 30 and rng.random() < 0.8):
                gaps = list(range(22, 37))
                rng.shuffle(gaps)
                c = find(by_wife_age, [p.age + g for g in (*gaps, 20, 21, 37, 38, 39, 40, 41, 42)], 3, kids)
                if c is not None:
                    kids[c] += 1
                    couples[c].append(i)
                    p.relation = "son" if p.sex == "male" else "daughter"
                    continue
                if p.age < 18:  # left-behind child living with grandparents
                    c = find(by_wife_age, [p.age + g for g in range(45, 66)], 5, kids)
                    if c is not None:
                        kids[c] += 1
                        couples[c].append(i)
                        p.relation = "grandson" if p.sex == "male" else "granddaughter"
                        continue
                    if couples:
                        c = rng.randrange(len(couples))
                        couples[c].append(i)
                        p.relation = "other"
                        continue
            if p.age >= 60 and rng.random() < rates.ELDER_JOINS_CHILD:
                elders.append(i)
            else:
                singles.append(i)
        sizes = [len(c) for c in couples]
        for i in elders:
            p = people[i]
            c = find(by_husband_age, [p.age - g for g in range(22, 41)], 4, sizes)
            if c is None:
                singles.append(i)
                continue
            couples[c].append(i)
            sizes[c] += 1
            p.relation = "father" if p.sex == "male" else "mother"
        for members in couples:
            head, wife = members[0], members[1]
            people[head].relation, people[wife].relation = "head", "spouse"
            family = self.names.surname()
            people[head].surname = family
            people[wife].surname = self.names.surname()
            for m in members[2:]:
                rel = people[m].relation
                if rel in ("son", "daughter", "grandson", "granddaughter"):
                    people[m].surname = family if rng.random() < 12 / 13 else people[wife].surname
                elif rel == "father":
                    people[m].surname = family
                else:
                    people[m].surname = self.names.surname()
            self.households.append(members)
        for i in singles:
            people[i].relation = "head"
            people[i].surname = self.names.surname()
            self.households.append([i])
        rng.shuffle(self.households)

    # --- rows ---------------------------------------------------------------------------------------------
    def rows(self, household_first: int, resident_first: int, created: dt.datetime) -> TownshipRows:
        plan, township, rng, state = self.plan, self.township, self.rng, self.state
        county = plan.identity.division_code
        cid = plan.community_id
        out = TownshipRows()
        villages = township.villages
        village_cum = list(accumulate(v.weight for v in villages))
        numbers: dict[str, int] = {}
        resident_id = resident_first
        newborn_cutoff = self.as_of - dt.timedelta(days=rates.NEWBORN_WITHOUT_ID_DAYS)
        place = f"{plan.identity.name}{township.name}"
        people_ids: list[int] = [0] * len(self.people)
        for h, members in enumerate(self.households):
            if rng.random() < township.town_share:
                code, home, where = township.seat_code, township.branch.id, f"{place}{township.name[:-1]}街"
            else:
                v = villages[bisect(village_cum, rng.random() * village_cum[-1])]
                code, home, where = v.code, v.clinic.id, f"{place}{v.name}{rng.randint(1, 12)}组"
            n = numbers[code] = numbers.get(code, 0) + 1
            address = f"{where}{n}号"
            household_id = household_first + h
            out.households.append((household_id, new_uuid(rng), cid, f"{code}{n:04d}", address, code, home))
            for m in members:
                p = self.people[m]
                name = self.names.make(p.sex, p.birth.year, p.surname)
                national_id = None
                if p.birth > newborn_cutoff and rng.random() < 0.6:
                    state.certificate_seq += 1
                    out.identifiers.append(
                        (
                            resident_id,
                            IdentifierType.BIRTH_CERTIFICATE,
                            f"Q{county[:2]}{state.certificate_seq:08d}",
                        )
                    )
                else:
                    key = (p.birth, p.sex)
                    seq = state.id_sequences.get(key, rng.randrange(40))
                    if seq > 99:
                        raise RuntimeError(
                            f"more than 100 residents born on {p.birth} of one sex: no sequence codes left"
                        )
                    state.id_sequences[key] = seq + 1
                    national_id = state.ids.build(p.birth, seq, p.sex)
                phone = ""
                if rng.random() < PHONE[p.age]:
                    phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**9):09d}"
                    while phone in state.phones:
                        phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**9):09d}"
                    state.phones.add(phone)
                scheme = self.insurance(p, national_id is not None)
                insurance_number = ""
                if scheme != InsuranceScheme.NONE:
                    state.insurance_seq += 1
                    scheme_digit = "2" if scheme == InsuranceScheme.EMPLOYEE else "1"
                    insurance_number = f"{county}{scheme_digit}{state.insurance_seq:09d}"
                if 20 <= p.age <= 50 and rng.random() < rates.PASSPORT_ADULTS:
                    passport = f"E{rng.randrange(10**8):08d}"
                    while passport in state.passports:
                        passport = f"E{rng.randrange(10**8):08d}"
                    state.passports.add(passport)
                    out.identifiers.append((resident_id, IdentifierType.PASSPORT, passport))
                out.residents.append(
                    (
                        resident_id,
                        new_uuid(rng),
                        cid,
                        name.name,
                        name.pinyin,
                        name.initials,
                        p.sex,
                        p.birth,
                        national_id,
                        phone,
                        address,
                        code,
                        household_id,
                        RELATIONS[p.relation],
                        home,
                        scheme,
                        insurance_number,
                        None,
                        1,
                        created,
                        created,
                    )
                )
                people_ids[m] = resident_id
                resident_id += 1
        out.tags = self.tags(people_ids)
        return out

    def insurance(self, p: Person, has_id: bool) -> str:
        r = self.rng.random()
        if not has_id:
            return InsuranceScheme.NONE
        if p.age < 18:
            return InsuranceScheme.NONE if r < rates.NOT_INSURED_OTHER else InsuranceScheme.RESIDENT
        employee = rates.EMPLOYEE_ELDERLY if p.age >= 60 else rates.EMPLOYEE_WORKING_AGE
        uninsured = rates.NOT_INSURED_YOUNG_ADULT if p.age <= 45 else rates.NOT_INSURED_OTHER
        if r < uninsured:
            return InsuranceScheme.NONE
        if r < uninsured + employee:
            return InsuranceScheme.EMPLOYEE
        return InsuranceScheme.RESIDENT

    # --- key populations ----------------------------------------------------------------------------------
    def tags(self, ids: list[int]) -> list[tuple]:
        rng, as_of, people = self.rng, self.as_of, self.people
        tags: list[tuple] = []

        def since_within(years: float, not_before: dt.date) -> dt.date:
            day = as_of - dt.timedelta(days=int(rng.random() * years * 365.25))
            return max(day, not_before)

        def calibrated(candidates: list[int], weight: Callable[[int], float], share: float) -> list[int]:
            """Each candidate with probability proportional to its weight, scaled so that the expected number
            chosen is share x len(candidates)."""
            weights = [weight(i) for i in candidates]
            total = sum(weights)
            if not total:
                return []
            scale = share * len(candidates) / total
            return [i for i, w in zip(candidates, weights, strict=True) if rng.random() < min(1.0, w * scale)]

        def weighted_sample(candidates: list[int], weight: Callable[[int], float], k: int) -> list[int]:
            """k candidates without replacement, by weight (Efraimidis-Spirakis keys)."""
            keyed = []
            for i in candidates:
                w = weight(i)
                if w > 0:
                    keyed.append((rng.random() ** (1 / w), i))
            keyed.sort(reverse=True)
            return sorted(i for _, i in keyed[:k])

        adults = [i for i, p in enumerate(people) if p.age >= 18]
        for i, p in enumerate(people):
            if p.age >= 65:
                tags.append((ids[i], KeyPopulation.ELDERLY, anniversary(p.birth, 65)))
            elif p.age <= 6:
                tags.append((ids[i], KeyPopulation.CHILD_0_6, p.birth))
        hypertensive = calibrated(adults, lambda i: HYPERTENSION[people[i].age], rates.HYPERTENSION_ADULT)
        hypertensive_set = set(hypertensive)
        boost = rates.DIABETES_GIVEN_HYPERTENSION
        diabetic = calibrated(
            adults,
            lambda i: DIABETES[people[i].age] * (boost if i in hypertensive_set else 1.0),
            rates.DIABETES_ADULT,
        )
        for tag, chosen, years in (
            (KeyPopulation.HYPERTENSION, hypertensive, 15),
            (KeyPopulation.DIABETES, diabetic, 12),
        ):
            for i in chosen:
                p = people[i]
                tags.append(
                    (ids[i], tag, since_within(min(years, p.age - 18) + 0.1, anniversary(p.birth, 18)))
                )
        n = len(people)
        women = [i for i, p in enumerate(people) if p.sex == "female" and 20 <= p.age < 45]
        for i in weighted_sample(
            women, lambda i: FERTILITY[people[i].age], round(n * rates.CRUDE_BIRTH_RATE * 0.75)
        ):
            tags.append((ids[i], KeyPopulation.PREGNANT, as_of - dt.timedelta(days=rng.randint(14, 270))))
        for i in weighted_sample(
            adults, lambda i: 1.0 if people[i].age < 75 else 0.3, round(n * rates.SEVERE_MENTAL)
        ):
            tags.append(
                (ids[i], KeyPopulation.SEVERE_MENTAL, since_within(10, anniversary(people[i].birth, 16)))
            )
        for i in weighted_sample(
            adults,
            lambda i: (2.0 if people[i].sex == "male" else 1.0) * (1.5 if people[i].age >= 40 else 1.0),
            round(n * rates.TUBERCULOSIS),
        ):
            tags.append((ids[i], KeyPopulation.TUBERCULOSIS, as_of - dt.timedelta(days=rng.randint(1, 180))))
        order = list(range(len(self.households)))
        rng.shuffle(order)
        poor_target, poor = n * rates.REGISTERED_POOR, 0
        for h in order:
            if poor >= poor_target:
                break
            for m in self.households[h]:
                tags.append(
                    (ids[m], KeyPopulation.REGISTERED_POOR, max(dt.date(2015, 10, 1), people[m].birth))
                )
                poor += 1
        for i in calibrated(list(range(n)), lambda i: DISABLED[people[i].age], rates.DISABLED):
            tags.append((ids[i], KeyPopulation.DISABLED, since_within(20, people[i].birth)))
        return tags


@dataclass
class PeopleCounts:
    households: int = 0
    residents: int = 0
    tags: int = 0
    identifiers: int = 0


def load_people(
    plan: CountyPlan, loader: BulkLoader, created: dt.datetime, advance: Callable[[int], None] | None = None
) -> PeopleCounts:
    state = CountyState(NationalIdMaker(plan.identity.division_code))
    counts = PeopleCounts()
    for index, township in enumerate(plan.townships):
        generator = TownshipGenerator(plan, township, index, state)
        generator.draw_people()
        generator.form_households()
        household_first = loader.reserve_ids(Household, len(generator.households))
        resident_first = loader.reserve_ids(Resident, len(generator.people))
        rows = generator.rows(household_first, resident_first, created)
        counts.households += loader.load(Household, HOUSEHOLD_COLUMNS, rows.households)
        counts.residents += loader.load(Resident, RESIDENT_COLUMNS, rows.residents, on_chunk=advance)
        tag_first = loader.reserve_ids(ResidentTag, len(rows.tags))
        counts.tags += loader.load(
            ResidentTag, TAG_COLUMNS, ((tag_first + k, *t) for k, t in enumerate(rows.tags))
        )
        if rows.identifiers:
            ident_first = loader.reserve_ids(ResidentIdentifier, len(rows.identifiers))
            counts.identifiers += loader.load(
                ResidentIdentifier,
                IDENTIFIER_COLUMNS,
                ((ident_first + k, *t) for k, t in enumerate(rows.identifiers)),
            )
    return counts
