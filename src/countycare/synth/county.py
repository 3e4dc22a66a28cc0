"""The institutions of the generated county: the community, its organisations, departments, practitioners
and their postings (县管乡用, 乡聘村用, multi-site practice).

`plan_county` decides the shape (how many townships and villages, who serves where) from the population;
`load_institutions` writes it. The plan stays in memory for the people generator (which village a
household lives in) and for later generators (who sees patients where).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass, field

from countycare.core.codes import Level, OrganizationType, PostingKind, Role, Title
from countycare.core.models import Community
from countycare.registry.models import Department, Organization, Posting, Practitioner

from . import rates
from .load import BulkLoader
from .names import NameMaker
from .places import CountyIdentity, pick_county, township_names, village_names


def stream(seed: int, *parts: object) -> random.Random:
    """An independent RNG per part of the county, so adding a generator never shifts the others' draws."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))


VERSION_4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
VERSION_4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from the seeded RNG, as 32 hex digits: the form SQLite stores and
    PostgreSQL's uuid input accepts, so the loader passes it through unconverted."""
    return f"{(rng.getrandbits(128) & VERSION_4_CLEAR) | VERSION_4_SET:032x}"


# --- departments (诊疗科目 codes of 医疗机构诊疗科目名录, 卫医发〔1994〕27号, where one exists) -------------
# code, name, specialty, practice scope (执业范围) of its physicians, bed weight, kind
CLINICAL, CENTRE, PHARMACY, OFFICE, PUBLIC_HEALTH = (
    "clinical",
    "centre",
    "pharmacy",
    "office",
    "public_health",
)
DeptSpec = tuple[str, str, str, str, int, str]
LEAD_DEPARTMENTS: list[DeptSpec] = [
    ("02", "全科医学科", "general practice", "全科医学专业", 2, CLINICAL),
    ("03.01", "呼吸内科", "respiratory medicine", "内科专业", 5, CLINICAL),
    ("03.02", "消化内科", "gastroenterology", "内科专业", 5, CLINICAL),
    ("03.03", "神经内科", "neurology", "内科专业", 6, CLINICAL),
    ("03.04", "心血管内科", "cardiology", "内科专业", 7, CLINICAL),
    ("03.06", "肾内科", "nephrology", "内科专业", 3, CLINICAL),
    ("03.07", "内分泌科", "endocrinology", "内科专业", 3, CLINICAL),
    ("03.10", "老年病科", "geriatrics", "内科专业", 3, CLINICAL),
    ("04.01", "普通外科", "general surgery", "外科专业", 6, CLINICAL),
    ("04.02", "神经外科", "neurosurgery", "外科专业", 3, CLINICAL),
    ("04.03", "骨科", "orthopaedics", "外科专业", 6, CLINICAL),
    ("04.04", "泌尿外科", "urology", "外科专业", 3, CLINICAL),
    ("04.05", "胸外科", "thoracic surgery", "外科专业", 2, CLINICAL),
    ("05.01", "妇科", "gynaecology", "妇产科专业", 3, CLINICAL),
    ("05.02", "产科", "obstetrics", "妇产科专业", 4, CLINICAL),
    ("07", "儿科", "paediatrics", "儿科专业", 5, CLINICAL),
    ("10", "眼科", "ophthalmology", "眼耳鼻咽喉科专业", 1, CLINICAL),
    ("11", "耳鼻咽喉科", "otorhinolaryngology", "眼耳鼻咽喉科专业", 1, CLINICAL),
    ("12", "口腔科", "stomatology", "口腔专业", 0, CLINICAL),
    ("16", "感染性疾病科", "infectious diseases", "内科专业", 2, CLINICAL),
    ("19", "肿瘤科", "oncology", "内科专业", 3, CLINICAL),
    ("20", "急诊医学科", "emergency medicine", "急救医学专业", 2, CLINICAL),
    ("21", "康复医学科", "rehabilitation medicine", "康复医学专业", 2, CLINICAL),
    ("26", "麻醉科", "anaesthesiology", "外科专业", 0, CLINICAL),
    ("28", "重症医学科", "critical care", "重症医学专业", 2, CLINICAL),
    ("50", "中医科", "traditional Chinese medicine", "中医专业", 2, CLINICAL),
    ("30", "医学检验科", "laboratory medicine", "医学检验、病理专业", 0, CENTRE),
    ("31", "病理科", "pathology", "医学检验、病理专业", 0, CENTRE),
    ("32", "医学影像科", "radiology", "医学影像和放射治疗专业", 0, CENTRE),
    ("32.08", "心电诊断科", "electrocardiography", "内科专业", 0, CENTRE),
    ("YJ", "药学部（中心药房）", "pharmacy", "", 0, PHARMACY),
    ("GL", "医共体管理中心", "management", "", 0, OFFICE),
    ("YB", "医保办", "insurance office", "", 0, OFFICE),
]
TCM_DEPARTMENTS: list[DeptSpec] = [
    ("50.01", "中医内科", "TCM internal medicine", "中医专业", 5, CLINICAL),
    ("50.02", "中医外科", "TCM surgery", "中医专业", 2, CLINICAL),
    ("50.07", "中医骨伤科", "TCM orthopaedics", "中医专业", 3, CLINICAL),
    ("50.10", "针灸科", "acupuncture", "中医专业", 1, CLINICAL),
    ("50.11", "推拿科", "tuina", "中医专业", 1, CLINICAL),
    ("30", "检验科", "laboratory medicine", "医学检验、病理专业", 0, CENTRE),
    ("32", "医学影像科", "radiology", "医学影像和放射治疗专业", 0, CENTRE),
    ("YJ", "中药房", "pharmacy", "", 0, PHARMACY),
]
MCH_DEPARTMENTS: list[DeptSpec] = [
    ("05.01", "妇科", "gynaecology", "妇产科专业", 3, CLINICAL),
    ("05.02", "产科", "obstetrics", "妇产科专业", 5, CLINICAL),
    ("07", "儿科", "paediatrics", "儿科专业", 4, CLINICAL),
    ("06", "妇女保健科", "women's health care", "妇产科专业", 0, CLINICAL),
    ("09", "儿童保健科", "child health care", "儿科专业", 0, CLINICAL),
    ("30", "检验科", "laboratory medicine", "医学检验、病理专业", 0, CENTRE),
    ("32.07", "超声科", "ultrasound", "医学影像和放射治疗专业", 0, CENTRE),
    ("YJ", "药剂科", "pharmacy", "", 0, PHARMACY),
]
CDC_DEPARTMENTS: list[DeptSpec] = [
    ("JK01", "传染病防制科", "communicable disease control", "公共卫生类别专业", 0, PUBLIC_HEALTH),
    ("JK02", "免疫规划科", "immunisation", "公共卫生类别专业", 0, PUBLIC_HEALTH),
    ("JK03", "慢性病防制科", "chronic disease control", "公共卫生类别专业", 0, PUBLIC_HEALTH),
    ("JK04", "检验科", "public health laboratory", "公共卫生类别专业", 0, CENTRE),
]
BRANCH_DEPARTMENTS: list[DeptSpec] = [
    ("02", "全科医疗科", "general practice", "全科医学专业", 2, CLINICAL),
    ("03", "内科", "internal medicine", "内科专业", 4, CLINICAL),
    ("04", "外科", "surgery", "外科专业", 2, CLINICAL),
    ("05", "妇产科", "obstetrics and gynaecology", "妇产科专业", 1, CLINICAL),
    ("50", "中医科", "traditional Chinese medicine", "中医专业", 1, CLINICAL),
    ("01", "预防保健科", "preventive care", "全科医学专业", 0, PUBLIC_HEALTH),
    ("30", "检验科", "laboratory medicine", "医学检验、病理专业", 0, CENTRE),
    ("32", "医学影像科", "radiology", "医学影像和放射治疗专业", 0, CENTRE),
    ("YJ", "药房", "pharmacy", "", 0, PHARMACY),
]
PARTNER_DEPARTMENTS: list[DeptSpec] = [
    ("03.04", "心血管内科", "cardiology", "内科专业", 0, CLINICAL),
    ("04.02", "神经外科", "neurosurgery", "外科专业", 0, CLINICAL),
    ("19", "肿瘤科", "oncology", "内科专业", 0, CLINICAL),
    ("32.08", "心电诊断科", "electrocardiography", "内科专业", 0, CENTRE),
]

# Staff mix by organisation kind: (physicians, nurses, pharmacists, technicians, officers)
STAFF_MIX = {
    "lead": (0.36, 0.44, 0.05, 0.10, 0.05),
    "tcm": (0.44, 0.38, 0.08, 0.10, 0.0),
    "mch": (0.42, 0.44, 0.05, 0.09, 0.0),
    "cdc": (0.45, 0.0, 0.0, 0.35, 0.20),
    "branch": (0.46, 0.38, 0.06, 0.10, 0.0),
}
COUNTY_PHYSICIAN_TITLES = (
    (Title.CHIEF_PHYSICIAN, 0.07),
    (Title.ASSOCIATE_CHIEF_PHYSICIAN, 0.20),
    (Title.ATTENDING_PHYSICIAN, 0.35),
    (Title.RESIDENT_PHYSICIAN, 0.38),
)
BRANCH_PHYSICIAN_TITLES = (
    (Title.ASSOCIATE_CHIEF_PHYSICIAN, 0.04),
    (Title.ATTENDING_PHYSICIAN, 0.30),
    (Title.RESIDENT_PHYSICIAN, 0.36),
    (Title.ASSISTANT_PHYSICIAN, 0.30),
)
COUNTY_NURSE_TITLES = (
    (Title.CHIEF_NURSE, 0.01),
    (Title.ASSOCIATE_CHIEF_NURSE, 0.06),
    (Title.SUPERVISOR_NURSE, 0.35),
    (Title.NURSE_PRACTITIONER, 0.33),
    (Title.NURSE, 0.25),
)
BRANCH_NURSE_TITLES = (
    (Title.ASSOCIATE_CHIEF_NURSE, 0.01),
    (Title.SUPERVISOR_NURSE, 0.20),
    (Title.NURSE_PRACTITIONER, 0.39),
    (Title.NURSE, 0.40),
)
PHARMACIST_TITLES = ((Title.SUPERVISOR_PHARMACIST, 0.4), (Title.PHARMACIST, 0.6))
VILLAGE_TITLES = (
    (Title.VILLAGE_DOCTOR, 0.70),
    (Title.ASSISTANT_PHYSICIAN, 0.25),
    (Title.RESIDENT_PHYSICIAN, 0.05),
)
# Typical age range by title (years)
TITLE_AGES = {
    Title.CHIEF_PHYSICIAN: (45, 60),
    Title.ASSOCIATE_CHIEF_PHYSICIAN: (38, 56),
    Title.ATTENDING_PHYSICIAN: (31, 50),
    Title.RESIDENT_PHYSICIAN: (25, 38),
    Title.ASSISTANT_PHYSICIAN: (24, 55),
    Title.VILLAGE_DOCTOR: (35, 70),
    Title.CHIEF_NURSE: (45, 58),
    Title.ASSOCIATE_CHIEF_NURSE: (40, 56),
    Title.SUPERVISOR_NURSE: (30, 52),
    Title.NURSE_PRACTITIONER: (26, 45),
    Title.NURSE: (21, 35),
    Title.CHIEF_PHARMACIST: (45, 60),
    Title.SUPERVISOR_PHARMACIST: (32, 55),
    Title.PHARMACIST: (24, 45),
    Title.TECHNICIAN: (24, 55),
    Title.OFFICER: (28, 58),
}
# Licence number: a class digit, the county code, a running number (15 digits, like 医师执业证书编码).
LICENCE_CLASS = {
    Title.CHIEF_PHYSICIAN: "1",
    Title.ASSOCIATE_CHIEF_PHYSICIAN: "1",
    Title.ATTENDING_PHYSICIAN: "1",
    Title.RESIDENT_PHYSICIAN: "1",
    Title.ASSISTANT_PHYSICIAN: "2",
    Title.VILLAGE_DOCTOR: "3",
    Title.CHIEF_NURSE: "4",
    Title.ASSOCIATE_CHIEF_NURSE: "4",
    Title.SUPERVISOR_NURSE: "4",
    Title.NURSE_PRACTITIONER: "4",
    Title.NURSE: "4",
    Title.CHIEF_PHARMACIST: "5",
    Title.SUPERVISOR_PHARMACIST: "5",
    Title.PHARMACIST: "5",
    Title.TECHNICIAN: "6",
}
VILLAGE_HIRE_SHARE = 0.3
# Of the lead hospital's physicians, those of its centres (laboratory, pathology, radiology, ECG): enough for the
# shared centres' rosters to read a 400,000 county's exams (issue #4; docs/synthetic-county.md).
CENTRE_PHYSICIAN_SHARE = 0.16  # villages with a doctor hired by the branch (乡聘村用) besides their village doctors


@dataclass
class Org:
    id: int
    uuid: str
    name: str
    short_name: str
    org_type: str
    level: str
    division_code: str
    parent_id: int | None = None
    is_member: bool = True
    address: str = ""
    phone: str = ""
    beds: int = 0
    kind: str = ""  # lead / tcm / mch / cdc / branch / village / partner
    departments: list[Dept] = field(default_factory=list)
    served: int = 0  # residents this organisation is home to (planned)


@dataclass
class Dept:
    id: int
    uuid: str
    organization_id: int
    code: str
    name: str
    specialty: str
    scope: str
    kind: str
    beds: int = 0


@dataclass
class Village:
    name: str
    code: str  # 12 digits
    clinic: Org
    weight: float


@dataclass
class Township:
    name: str
    code: str  # 9 digits
    branch: Org
    population: int
    town_share: float
    seat_code: str  # the 12-digit code of the town seat's neighbourhood committee (镇区社区)
    villages: list[Village] = field(default_factory=list)


@dataclass
class CountyPlan:
    seed: int
    population: int
    as_of: dt.date
    identity: CountyIdentity
    community_id: int = 0
    orgs: list[Org] = field(default_factory=list)
    townships: list[Township] = field(default_factory=list)
    lead: Org | None = None

    @property
    def county_name(self) -> str:
        return self.identity.name

    @property
    def lead_name(self) -> str:
        return f"{self.identity.name}人民医院"


def township_count(population: int) -> int:
    """12 townships at 400,000, fewer (at least 2) for a small county: a sqrt law keeps villages realistic."""
    return max(2, round(rates.FULL_SIZE_TOWNSHIPS * math.sqrt(population / rates.FULL_SIZE)))


def village_count(population: int, townships: int) -> int:
    return max(2 * townships, round(population / rates.VILLAGE_SIZE))


def split(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split an integer total by weights (largest remainder), each part at least `minimum`."""
    base = minimum * len(weights)
    rest = max(0, total - base)
    raw = [w / sum(weights) * rest for w in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: rest - sum(parts)]:
        parts[i] += 1
    return [p + minimum for p in parts]


def plan_county(*, population: int, seed: int, as_of: dt.date) -> CountyPlan:
    """Organisations and places; ids are assigned when loading."""
    rng = stream(seed, "places")
    identity = pick_county(seed)
    plan = CountyPlan(seed=seed, population=population, as_of=as_of, identity=identity)
    county = identity.division_code
    n_town = township_count(population)
    names = township_names(rng, n_town)
    weights = [2.5] + [rng.uniform(0.6, 1.4) for _ in range(n_town - 1)]
    populations = split(population, weights)
    shares = [rates.COUNTY_SEAT_TOWN_SHARE] + [rates.TOWN_SEAT_SHARE] * (n_town - 1)
    rural = [p * (1 - s) for p, s in zip(populations, shares, strict=True)]
    villages_per = split(village_count(population, n_town), rural, minimum=1)

    def org(**kw: object) -> Org:
        o = Org(id=0, uuid=new_uuid(rng), **kw)  # type: ignore[arg-type]
        plan.orgs.append(o)
        return o

    phone = lambda: f"{identity.area_code}-{rng.randint(2, 8)}{rng.randint(0, 999999):06d}"  # noqa: E731
    seat = f"{identity.province}{identity.city}{identity.name}城关镇"
    plan.lead = org(
        name=plan.lead_name,
        short_name="县人民医院",
        org_type=OrganizationType.LEAD_HOSPITAL,
        level=Level.COUNTY,
        division_code=county,
        address=f"{seat}人民路{rng.randint(1, 300)}号",
        phone=phone(),
        kind="lead",
        served=population,
    )
    if population >= rates.TCM_HOSPITAL_FROM:
        org(
            name=f"{identity.name}中医院",
            short_name="县中医院",
            org_type=OrganizationType.TCM_HOSPITAL,
            level=Level.COUNTY,
            division_code=county,
            address=f"{seat}健康路{rng.randint(1, 200)}号",
            phone=phone(),
            kind="tcm",
            served=population,
        )
    org(
        name=f"{identity.name}妇幼保健院",
        short_name="县妇幼保健院",
        org_type=OrganizationType.MCH,
        level=Level.COUNTY,
        division_code=county,
        address=f"{seat}解放路{rng.randint(1, 200)}号",
        phone=phone(),
        kind="mch",
        served=population,
    )
    org(
        name=f"{identity.name}疾病预防控制中心",
        short_name="县疾控中心",
        org_type=OrganizationType.CDC,
        level=Level.COUNTY,
        division_code=county,
        address=f"{seat}建设路{rng.randint(1, 200)}号",
        phone=phone(),
        kind="cdc",
        served=population,
    )
    org(
        name=identity.partner,
        short_name=identity.partner,
        org_type=OrganizationType.PARTNER_HOSPITAL,
        level=Level.OUTSIDE,
        division_code=identity.partner_code,
        is_member=False,
        address=identity.province,
        phone="",
        kind="partner",
    )

    for i, ((t_name, kind), t_pop, share, n_vil) in enumerate(
        zip(names, populations, shares, villages_per, strict=True)
    ):
        number = 101 + i if kind == "镇" else 201 + i
        code = f"{county}{number:03d}"
        seat_town = i == 0
        branch = org(
            name=f"{plan.lead_name}{t_name}分院",
            short_name=f"{t_name}分院",
            org_type=OrganizationType.COMMUNITY_CENTRE if seat_town else OrganizationType.TOWNSHIP_CENTRE,
            level=Level.TOWNSHIP,
            division_code=code,
            address=f"{identity.name}{t_name}{t_name[:-1]}街{rng.randint(1, 99)}号",
            phone=phone(),
            kind="branch",
            served=t_pop,
        )
        township = Township(
            name=t_name, code=code, branch=branch, population=t_pop, town_share=share, seat_code=f"{code}001"
        )
        for j, v_name in enumerate(village_names(rng, n_vil)):
            v_code = f"{code}{201 + j:03d}"
            clinic = org(
                name=f"{t_name}{v_name}卫生室",
                short_name=f"{v_name}卫生室",
                org_type=OrganizationType.VILLAGE_CLINIC,
                level=Level.VILLAGE,
                division_code=v_code,
                address=f"{identity.name}{t_name}{v_name}",
                kind="village",
            )
            township.villages.append(Village(v_name, v_code, clinic, rng.uniform(0.6, 1.4)))
        plan.townships.append(township)
    for township in plan.townships:  # planned residents per clinic (for staffing)
        rural = township.population * (1 - township.town_share)
        total_weight = sum(v.weight for v in township.villages)
        for v in township.villages:
            v.clinic.served = round(rural * v.weight / total_weight)
    return plan


ORG_COLUMNS = (
    "id",
    "uuid",
    "community_id",
    "name",
    "short_name",
    "org_type",
    "level",
    "parent_id",
    "is_member",
    "division_code",
    "address",
    "phone",
    "beds",
    "active",
)
DEPT_COLUMNS = ("id", "uuid", "organization_id", "code", "name", "specialty", "beds")
PRACTITIONER_COLUMNS = (
    "id",
    "uuid",
    "community_id",
    "name",
    "sex",
    "birth_date",
    "title",
    "licence_number",
    "specialties",
    "phone",
    "active",
)
POSTING_COLUMNS = (
    "id",
    "uuid",
    "practitioner_id",
    "organization_id",
    "department_id",
    "role",
    "kind",
    "start",
    "end",
)

DEPARTMENTS_BY_KIND = {
    "lead": LEAD_DEPARTMENTS,
    "tcm": TCM_DEPARTMENTS,
    "mch": MCH_DEPARTMENTS,
    "cdc": CDC_DEPARTMENTS,
    "branch": BRANCH_DEPARTMENTS,
    "partner": PARTNER_DEPARTMENTS,
}
BEDS_PER_1000 = {"lead": 1.5, "tcm": 0.5, "mch": 0.3, "branch": 1.2}


def create_community(plan: CountyPlan) -> Community:
    rng = stream(plan.seed, "community")
    community = Community.objects.create(
        uuid=uuid.UUID(new_uuid(rng)),
        name=f"{plan.identity.name}医共体",
        county_name=plan.identity.name,
        division_code=plan.identity.division_code,
    )
    plan.community_id = community.pk
    return community


def load_organizations(plan: CountyPlan, loader: BulkLoader) -> None:
    """Organisations and departments (ids assigned here)."""
    rng = stream(plan.seed, "departments")
    first = loader.reserve_ids(Organization, len(plan.orgs))
    for i, o in enumerate(plan.orgs):
        o.id = first + i
    lead = plan.lead
    assert lead is not None
    for township in plan.townships:
        township.branch.parent_id = lead.id
        for v in township.villages:
            v.clinic.parent_id = township.branch.id
    for o in plan.orgs:
        specs = DEPARTMENTS_BY_KIND.get(o.kind, [])
        beds_total = (
            max(10, round(o.served * BEDS_PER_1000.get(o.kind, 0) / 1000)) if o.kind in BEDS_PER_1000 else 0
        )
        bed_parts = (
            split(beds_total, [max(s[4], 0.0001) for s in specs])
            if specs and beds_total
            else [0] * len(specs)
        )
        for spec, beds in zip(specs, bed_parts, strict=True):
            if spec[4] == 0:
                beds = 0
            o.departments.append(Dept(0, new_uuid(rng), 0, spec[0], spec[1], spec[2], spec[3], spec[5], beds))
        o.beds = sum(d.beds for d in o.departments)
    depts = [d for o in plan.orgs for d in o.departments]
    first_dept = loader.reserve_ids(Department, len(depts))
    for o in plan.orgs:
        for d in o.departments:
            d.organization_id = o.id
    for i, d in enumerate(depts):
        d.id = first_dept + i
    cid = plan.community_id
    loader.load(
        Organization,
        ORG_COLUMNS,
        (
            (
                o.id,
                o.uuid,
                cid,
                o.name,
                o.short_name,
                o.org_type,
                o.level,
                o.parent_id,
                o.is_member,
                o.division_code,
                o.address,
                o.phone,
                o.beds,
                True,
            )
            for o in plan.orgs
        ),
    )
    loader.load(
        Department,
        DEPT_COLUMNS,
        ((d.id, d.uuid, d.organization_id, d.code, d.name, d.specialty, d.beds) for d in depts),
    )


@dataclass
class StaffMember:
    name: str
    sex: str
    birth_date: dt.date
    title: str
    specialties: list[str]
    postings: list[
        tuple[int, int | None, str, str, dt.date, dt.date | None]
    ]  # org, dept, role, kind, start, end


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    r = rng.random() * sum(w for _, w in table)
    for value, weight in table:
        r -= weight
        if r < 0:
            return value
    return table[-1][0]


def staff_plan(plan: CountyPlan) -> list[StaffMember]:
    """Who works where: counts by level, title mix, departments, home postings, then postings across sites."""
    rng = stream(plan.seed, "staff")
    names = NameMaker(stream(plan.seed, "staff-names"))
    as_of = plan.as_of
    staff: list[StaffMember] = []
    lead_physicians: list[StaffMember] = []

    def person(title: str, sex: str | None = None) -> tuple[str, str, dt.date]:
        low, high = TITLE_AGES.get(title, (25, 55))
        age = rng.randint(low, high)
        sex = sex or ("male" if rng.random() < 0.5 else "female")
        birth = as_of - dt.timedelta(days=age * 365 + rng.randrange(365))
        return names.make(sex, birth.year).name, sex, birth

    def hired(birth: dt.date) -> dt.date:
        earliest = dt.date(birth.year + 23, 7, 1)
        years = rng.randint(1, max(1, as_of.year - earliest.year))
        return min(max(earliest, dt.date(as_of.year - years, rng.choice((3, 7, 9)), 1)), as_of)

    def add(
        title: str,
        org: Org,
        dept: Dept | None,
        role: str,
        sex: str | None = None,
        kind: str = PostingKind.HOME,
    ) -> StaffMember:
        name, sex_, birth = person(title, sex)
        specialties = [s for s in ((dept.scope, dept.name) if dept else ()) if s]
        member = StaffMember(
            name,
            sex_,
            birth,
            title,
            specialties,
            [(org.id, dept.id if dept else None, role, kind, hired(birth), None)],
        )
        staff.append(member)
        return member

    for o in plan.orgs:
        if o.kind not in STAFF_MIX:
            continue
        total = max(rates.STAFF_MINIMUM[o.kind], round(o.served * rates.STAFF_PER_10K[o.kind] / 10_000))
        mix = STAFF_MIX[o.kind]
        counts = split(total, list(mix))
        county_level = o.kind != "branch"
        clinical = [d for d in o.departments if d.kind in (CLINICAL, PUBLIC_HEALTH)]
        centres = [d for d in o.departments if d.kind == CENTRE]
        pharmacy = next((d for d in o.departments if d.kind == PHARMACY), None)
        offices = [d for d in o.departments if d.kind == OFFICE]
        weights = [d.beds + 2 for d in clinical]
        cum = list(_cumulative(weights))

        def clinical_dept(cum: list[float] = cum, clinical: list[Dept] = clinical) -> Dept:
            r = rng.random() * cum[-1]
            return clinical[next(i for i, c in enumerate(cum) if r < c)]

        physicians, nurses, pharmacists, technicians, officers = counts
        if o.kind == "lead":  # a small county's lead hospital still has a pharmacy, readers and both offices
            pharmacists, technicians, officers = max(pharmacists, 2), max(technicians, 2), max(officers, 2)
        clinical_role = {
            "lead": Role.COUNTY_SPECIALIST,
            "tcm": Role.COUNTY_SPECIALIST,
            "mch": Role.COUNTY_SPECIALIST,
            "cdc": Role.CDC_OFFICER,
            "branch": Role.TOWNSHIP_DOCTOR,
        }[o.kind]
        titles = COUNTY_PHYSICIAN_TITLES if county_level else BRANCH_PHYSICIAN_TITLES
        centre_physicians = round(physicians * CENTRE_PHYSICIAN_SHARE) if o.kind == "lead" else 0
        for i in range(physicians):
            # every clinical department of the lead hospital has a senior physician before the rest are drawn
            if o.kind == "lead" and i < min(len(clinical), physicians // 3):
                dept, title = (
                    clinical[i],
                    rng.choice((Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN)),
                )
            elif i >= physicians - centre_physicians and centres:
                dept, title = centres[i % len(centres)], _pick(rng, titles)
            else:
                dept, title = clinical_dept(), _pick(rng, titles)
            role = Role.CENTRE_READER if dept.kind == CENTRE and o.kind == "lead" else clinical_role
            member = add(title, o, dept, role)
            if o.kind == "lead" and dept.kind == CLINICAL:
                lead_physicians.append(member)
        nurse_titles = COUNTY_NURSE_TITLES if county_level else BRANCH_NURSE_TITLES
        for _ in range(nurses):
            add(
                _pick(rng, nurse_titles),
                o,
                clinical_dept(),
                clinical_role,
                sex="female" if rng.random() < 0.95 else "male",
            )
        for i in range(pharmacists):
            title = Title.CHIEF_PHARMACIST if i == 0 and o.kind == "lead" else _pick(rng, PHARMACIST_TITLES)
            add(title, o, pharmacy, Role.PHARMACIST)
        for i in range(technicians):
            dept = centres[i % len(centres)] if centres else None
            role = Role.CENTRE_READER if o.kind == "lead" else clinical_role
            add(Title.TECHNICIAN, o, dept, role)
        for i in range(officers):
            if o.kind == "cdc":
                add(Title.OFFICER, o, None, Role.CDC_OFFICER)
            else:
                dept = offices[i % len(offices)] if offices else None
                role = Role.INSURANCE_OFFICER if dept and dept.code == "YB" else Role.COMMUNITY_ADMIN
                add(Title.OFFICER, o, dept, role)

    # village clinics: 乡村医生 at home, and doctors the branch hires for the village (乡聘村用)
    for township in plan.townships:
        for v in township.villages:
            n = max(
                rates.STAFF_MINIMUM["village"],
                round(v.clinic.served * rates.STAFF_PER_10K["village"] / 10_000),
            )
            # about a third of the villages also get a licensed doctor the branch hired for them
            hired_for_village = 1 if rng.random() < VILLAGE_HIRE_SHARE else 0
            for i in range(n + hired_for_village):
                if i == n:
                    title = rng.choice((Title.ASSISTANT_PHYSICIAN, Title.RESIDENT_PHYSICIAN))
                else:
                    title = Title.VILLAGE_DOCTOR if i == 0 else _pick(rng, VILLAGE_TITLES)
                kind = PostingKind.HOME if title == Title.VILLAGE_DOCTOR else PostingKind.TOWNSHIP_TO_VILLAGE
                sex = "male" if rng.random() < 0.8 else "female"
                member = add(title, v.clinic, None, Role.VILLAGE_DOCTOR, sex=sex, kind=kind)
                member.specialties = ["全科医学专业"] if title != Title.VILLAGE_DOCTOR else ["乡村医生"]

    # 县管乡用: lead-hospital doctors of attending rank or above posted to each branch in six-month rotations,
    # so every branch has one all year (DOMAIN.md), the current rotation running past the as-of date.
    first_rotation = as_of - dt.timedelta(days=365)
    seniors = [
        m
        for m in lead_physicians
        if m.title in (Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN, Title.ATTENDING_PHYSICIAN)
        and m.postings[0][4] <= first_rotation
    ]
    rng.shuffle(seniors)
    rotations = [
        (as_of - dt.timedelta(days=365), as_of - dt.timedelta(days=183)),
        (as_of - dt.timedelta(days=182), as_of + dt.timedelta(days=183)),
    ]
    k = 0
    for township in plan.townships:
        for start, end in rotations:
            if not seniors:
                break
            member = seniors[k % len(seniors)]
            k += 1
            general = next((d for d in township.branch.departments if d.code == "03"), None)
            member.postings.append(
                (
                    township.branch.id,
                    general.id if general else None,
                    Role.COUNTY_SPECIALIST,
                    PostingKind.COUNTY_TO_TOWNSHIP,
                    start,
                    end,
                )
            )

    # the partner hospital's experts: cardiology, neurosurgery, oncology, and ECG readers who also read for
    # the county's ECG centre (多点执业)
    partner = next(o for o in plan.orgs if o.kind == "partner")
    lead = plan.lead
    assert lead is not None
    lead_ecg = next(d for d in lead.departments if d.code == "32.08")
    for dept in partner.departments:
        for _ in range(2):
            member = add(
                _pick(rng, ((Title.CHIEF_PHYSICIAN, 0.6), (Title.ASSOCIATE_CHIEF_PHYSICIAN, 0.4))),
                partner,
                dept,
                Role.CENTRE_READER if dept.kind == CENTRE else Role.COUNTY_SPECIALIST,
            )
            if dept.kind == CENTRE:
                member.postings.append(
                    (
                        lead.id,
                        lead_ecg.id,
                        Role.CENTRE_READER,
                        PostingKind.MULTI_SITE,
                        dt.date(as_of.year - 1, 1, 1),
                        None,
                    )
                )
    return staff


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def load_staff(plan: CountyPlan, loader: BulkLoader) -> int:
    staff = staff_plan(plan)
    rng = stream(plan.seed, "staff-ids")
    first = loader.reserve_ids(Practitioner, len(staff))
    county = plan.identity.division_code
    practitioners, postings = [], []
    phones = set()
    for i, m in enumerate(staff):
        pid = first + i
        licence = f"{LICENCE_CLASS[m.title]}{county}{i + 1:08d}" if m.title in LICENCE_CLASS else ""
        phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        while phone in phones:
            phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        phones.add(phone)
        practitioners.append(
            (
                pid,
                new_uuid(rng),
                plan.community_id,
                m.name,
                m.sex,
                m.birth_date,
                m.title,
                licence,
                m.specialties,
                phone,
                True,
            )
        )
        for org_id, dept_id, role, kind, start, end in m.postings:
            postings.append((pid, org_id, dept_id, role, kind, start, end))
    loader.load(Practitioner, PRACTITIONER_COLUMNS, practitioners)
    first_posting = loader.reserve_ids(Posting, len(postings))
    posting_rng = stream(plan.seed, "posting-ids")
    loader.load(
        Posting, POSTING_COLUMNS, ((first_posting + i, new_uuid(posting_rng), *p) for i, p in enumerate(postings))
    )
    return len(staff)
