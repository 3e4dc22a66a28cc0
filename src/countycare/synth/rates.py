"""Every rate the generated county uses, in one place, each with its source.

docs/synthetic-county.md explains them; change a number here and there together. Shares are fractions.
"""

from __future__ import annotations

# --- age and sex ------------------------------------------------------------------------------------------
# Five-year age bands of a rural county's population (percent). Shaped so the aggregates match the rural
# population of the 7th national census (2020): 0-14 19.3%, 15-59 56.9%, 60+ 23.8%, 65+ 17.7% (乡村60岁、
# 65岁及以上人口比重 23.81% / 17.72%, 第七次全国人口普查公报第五号 and the census tables); the split inside
# the aggregates follows the shape of the census pyramid (the 1962-1975 and 1985-1990 birth waves, the
# small cohorts born after 2017, out-migration of young adults from villages).
AGE_BANDS: list[tuple[int, int, float]] = [
    (0, 4, 5.2),
    (5, 9, 7.0),
    (10, 14, 7.1),
    (15, 19, 5.6),
    (20, 24, 4.4),
    (25, 29, 4.6),
    (30, 34, 6.0),
    (35, 39, 5.4),
    (40, 44, 5.3),
    (45, 49, 7.4),
    (50, 54, 8.8),
    (55, 59, 9.4),
    (60, 64, 6.1),
    (65, 69, 6.4),
    (70, 74, 4.8),
    (75, 79, 3.2),
    (80, 84, 2.0),
    (85, 89, 0.95),
    (90, 99, 0.35),
]


def male_share(age: int) -> float:
    """Share of men at an age: boys outnumber girls (sex ratio at birth ~111 in the 2010s; 2020 newborns
    52.7% boys, 公安部《2020年全国姓名报告》); women outlive men, so the oldest are mostly women."""
    if age < 15:
        return 0.535
    if age < 45:
        return 0.515
    if age < 65:
        return 0.505
    if age < 80:
        return 0.49
    return 0.42


# --- chronic disease (adults 18+) -------------------------------------------------------------------------
# 中国居民营养与慢性病状况报告（2020年）: prevalence among residents aged 18+: hypertension 27.5%,
# diabetes 11.9%. The overall adult rate is kept; the age gradient (relative weights below, from the
# age-specific rates of the China Chronic Disease and Risk Factor Surveillance 2018) decides who.
HYPERTENSION_ADULT = 0.275
DIABETES_ADULT = 0.119
HYPERTENSION_BY_AGE = [(18, 0.04), (30, 0.10), (40, 0.20), (50, 0.35), (60, 0.50), (70, 0.60)]
DIABETES_BY_AGE = [(18, 0.01), (30, 0.04), (40, 0.08), (50, 0.15), (60, 0.22), (70, 0.24)]
DIABETES_GIVEN_HYPERTENSION = 1.6  # relative weight: the two cluster (metabolic syndrome)

# --- other key populations --------------------------------------------------------------------------------
# Severe mental disorders: registered patients ~4.5 per thousand residents (the reported-prevalence level
# national mental-health work plans aim at; ~6.6 million registered patients in 2021 for 1.41 billion).
SEVERE_MENTAL = 0.0045
# Tuberculosis under treatment: China notifies ~50 cases per 100,000 a year (WHO Global TB Report 2023:
# estimated incidence 52/100,000); a patient is under management for about half a year, rural and older
# men over-represented.
TUBERCULOSIS = 0.0005
# Registered poor (建档立卡) households: ~5% of residents in an ex-poverty county after 2020 (the
# 98.99 million lifted out of poverty 2013-2020 were ~18% of the rural population nationally, concentrated
# in 832 counties; an ordinary central-western county keeps ~5% on the monitored list).
REGISTERED_POOR = 0.05
# Disability: 6.34% of the population (第二次全国残疾人抽样调查, 2006: 82.96 million).
DISABLED = 0.0634
DISABLED_BY_AGE = [(0, 0.01), (15, 0.03), (45, 0.06), (60, 0.15), (75, 0.30)]
# Pregnant women: births per year x 0.75 (nine months of twelve). Crude birth rate 6.39 per thousand
# (国家统计局 2023年国民经济和社会发展统计公报). Age weights follow the 2020 census age-specific fertility.
CRUDE_BIRTH_RATE = 0.00639
FERTILITY_BY_AGE = [(20, 0.055), (25, 0.098), (30, 0.070), (35, 0.031), (40, 0.009), (45, 0.0)]

# --- insurance ---------------------------------------------------------------------------------------------
# 2023年全国医疗保障事业发展统计公报: 1.334 billion insured (coverage >95%), employee insurance 371 million
# (28%), resident insurance 963 million. A rural county has fewer employees (teachers, civil servants,
# factory workers, retirees): ~14% of working-age adults and ~8% of the elderly; ~3% not enrolled
# (mostly migrant workers of 18-45 insured elsewhere or not at all, and newborns not yet enrolled).
EMPLOYEE_WORKING_AGE = 0.14
EMPLOYEE_ELDERLY = 0.08
NOT_INSURED_YOUNG_ADULT = 0.06
NOT_INSURED_OTHER = 0.015

# --- phones and identifiers --------------------------------------------------------------------------------
# Mobile phone ownership: ~96% of adults under 60, ~80% of 60-74, ~50% of 75+ (CNNIC 2023 rural internet
# use and phone ownership surveys); children have none of their own.
PHONE_BY_AGE = [(0, 0.0), (14, 0.5), (18, 0.96), (60, 0.80), (75, 0.50)]
NEWBORN_WITHOUT_ID_DAYS = 90  # babies under three months often have a birth certificate but no ID yet
PASSPORT_ADULTS = 0.01

# --- places and households --------------------------------------------------------------------------------
TOWN_SEAT_SHARE = 0.15  # residents of a township's seat (镇区), registered at the branch itself
COUNTY_SEAT_TOWN_SHARE = 0.55  # the county seat (城关镇) is mostly town
VILLAGE_SIZE = 2000  # residents per administrative village (200 villages for 400,000)
FULL_SIZE = 400_000
FULL_SIZE_TOWNSHIPS = 12

# Marriage by the man's age (7th census: ~90% of 30-64 year-olds married; widowhood rises after 65).
MARRIED_BY_AGE = [(20, 0.25), (25, 0.65), (30, 0.85), (40, 0.90), (65, 0.80), (75, 0.60), (85, 0.40)]
ELDER_JOINS_CHILD = 0.5  # a widowed 60+ parent lives with a married child (else alone)

# --- staff -------------------------------------------------------------------------------------------------
# Health workers per 10,000 residents served. DOMAIN.md: a county with 8 county-level institutions and
# 26 township centres had 2,231 health workers and 1,295 village doctors (1-2 per village clinic).
STAFF_PER_10K = {"lead": 16.0, "tcm": 5.0, "mch": 4.0, "cdc": 1.5, "branch": 12.0, "village": 8.0}
STAFF_MINIMUM = {"lead": 30, "tcm": 12, "mch": 6, "cdc": 4, "branch": 6, "village": 1}
TCM_HOSPITAL_FROM = 100_000  # a county this size has its own TCM hospital


def per_year(table: list[tuple[int, float]], oldest: int = 130) -> list[float]:
    """`by_age` precomputed for every age 0..oldest (indexable by age)."""
    return [by_age(table, age) for age in range(oldest + 1)]


def by_age(table: list[tuple[int, float]], age: int) -> float:
    """The value of the last row whose lower age bound is <= age (0 below the first row)."""
    value = 0.0
    for lower, rate in table:
        if age >= lower:
            value = rate
        else:
            break
    return value


# === a year of activity (issue #3) ========================================================================
# National anchors (2023年我国卫生健康事业发展统计公报, National Health Commission, 2024): 9.55 billion
# visits, 6.8 per resident; 301.87 million admissions (21.4 per 100 residents); average stay in hospitals
# 8.8 days; township health centres 1.31 billion visits and 39.92 million admissions; village clinics 1.40
# billion visits; hospital spending per visit 361.6 yuan and per admission 10,315.8 yuan (all hospitals,
# tertiary included). A rural county sees fewer visits per head than the nation (its residents live far from
# clinics and many working-age adults are away), so the county is calibrated to ~5.5 visits per resident, 20
# admissions per 100, 90-92% of visits inside the county (DOMAIN.md target >= 90%) and 62-68% of visits at
# the grassroots (target >= 65%). Everything below that is not one of those anchors is our choice, shaped to
# land on them; docs/synthetic-county.md has the measured figures.

# Sickness visits (outpatient, emergency, home) per resident per year by age, before chronic follow-ups,
# child checks and prenatal care. The age shape follows the two-week visit rates of the 6th National Health
# Services Survey (2018: highest under 5 and over 65, lowest at 15-24); the level is our calibration.
SICK_VISITS_BY_AGE = [(0, 7.0), (5, 2.6), (15, 1.6), (25, 2.2), (35, 2.8), (45, 3.8), (55, 4.8), (65, 5.8),
                      (75, 6.2)]
SICK_VISITS_WOMEN = 1.12  # women consult more often than men at every adult age (NHSS)
VISIT_DISPERSION = 1.3  # gamma shape of the person-to-person variation (small: a heavy tail, many non-users)

# Acute admissions per resident per year by age (deliveries and chronic conditions come on top).
ADMISSIONS_BY_AGE = [(0, 0.28), (5, 0.09), (15, 0.07), (45, 0.14), (60, 0.24), (75, 0.36)]

# Where a sickness visit happens, by age group (child < 15, adult, elder 60+): village clinic, branch,
# lead hospital, TCM hospital, maternal-child hospital, out of county (partner hospital, known from claims).
# Residents registered at their branch (the township seat) have no village clinic: its share goes to the
# branch. Without a TCM hospital (counties under 100,000) its share goes to the lead hospital's TCM clinic.
VISIT_LEVELS = {
    "child": {"village": 0.30, "branch": 0.27, "lead": 0.19, "tcm": 0.02, "mch": 0.13, "partner": 0.09},
    "adult": {"village": 0.31, "branch": 0.26, "lead": 0.20, "tcm": 0.08, "mch": 0.03, "partner": 0.12},
    "elder": {"village": 0.37, "branch": 0.27, "lead": 0.175, "tcm": 0.07, "mch": 0.0, "partner": 0.115},
}
MCH_ADULT_MEN = 0.0  # men do not go to the maternal-child hospital; their share goes to the lead hospital
# Acute admissions by age group.
ADMISSION_LEVELS = {
    "child": {"branch": 0.29, "lead": 0.45, "tcm": 0.0, "mch": 0.20, "partner": 0.06},
    "adult": {"branch": 0.29, "lead": 0.48, "tcm": 0.08, "mch": 0.03, "partner": 0.12},
    "elder": {"branch": 0.33, "lead": 0.45, "tcm": 0.08, "mch": 0.0, "partner": 0.14},
}
EMERGENCY_SHARE = {"lead": 0.12, "branch": 0.04, "tcm": 0.02, "mch": 0.05}  # of that level's visits
HOME_VISIT_SHARE = {"village": 0.04, "village_75": 0.15}  # village doctors' house calls (出诊)
TCM_VISIT_SHARE = {"village": 0.07, "tcm": 0.85}  # visits given as TCM (branch and lead: their TCM clinics)
WINTER_MONTHS = (11, 12, 1, 2, 3)  # respiratory infections peak (weight x winter factor of the diagnosis)
DAY_WEIGHTS = (1.15, 1.05, 1.0, 1.0, 1.0, 0.85, 0.7)  # Monday .. Sunday

# Chronic disease follow-ups of the national basic public health service (国家基本公共卫生服务规范（第三版）,
# 2017: hypertension and type 2 diabetes patients get at least four face-to-face follow-ups a year). The
# managed share (规范管理率) is ~70-75% in county reports; our choice 0.75.
CHRONIC_MANAGED = 0.75
CHRONIC_FOLLOW_UPS = 4
FOLLOW_UP_AT_BRANCH = 0.25  # village residents seen at the branch instead of their village clinic
FOLLOW_UP_AT_HOME = {"under_75": 0.12, "75_plus": 0.30}
# Children's health checks (same specification: 8 checks in the first 3 years, then yearly to 6).
CHILD_CHECKS_BY_AGE = [(0, 4), (1, 2), (3, 1), (7, 0)]
# Prenatal care: a visit about every four weeks from the eighth week (our choice; the specification asks
# for at least five).
PRENATAL_EVERY_DAYS = 28
# Deliveries: one per birth at the crude birth rate; caesarean share ~36% (China 2018-2020, Lancet 2021
# estimates 36-40%).
CAESAREAN_SHARE = 0.36
DELIVERY_LEVELS = {"mch": 0.48, "lead": 0.42, "partner": 0.10}  # the catalogue keeps deliveries at county level

# Chronic conditions beyond the tags (diagnosed and on the problem list), prevalence by age: ours, well
# below survey prevalence because only diagnosed, followed patients count. Sources for the order of size:
# China Cardiovascular Health and Disease Report 2022 (coronary heart disease 11.4 million, stroke 13
# million, heart failure 8.9 million), China Pulmonary Health study (Lancet 2018: COPD 13.7% of 40+, ~12%
# aware), China Kidney Disease Network (CKD 10.8%, few diagnosed), National Cancer Center (5-year
# prevalence ~0.6% of the population).
CONDITIONS_BY_AGE = {
    "I25.1": [(45, 0.01), (60, 0.04), (75, 0.06)],
    "I69.3": [(45, 0.008), (60, 0.03), (75, 0.05)],
    "J44.9": [(40, 0.02), (60, 0.05), (75, 0.07)],
    "I48.9": [(60, 0.01), (75, 0.025)],
    "I50.9": [(65, 0.01), (75, 0.025)],
    "N18.9": [(50, 0.005), (65, 0.012)],
    "B18.1": [(20, 0.008), (60, 0.004)],
    "F03": [(75, 0.02), (85, 0.06)],
    "CANCER": [(40, 0.003), (55, 0.009), (70, 0.014)],
}
# Extra visits and admissions a year a condition brings (our choice; cancer: chemotherapy cycles).
CONDITION_VISITS = {"I10": 0.8, "E11.9": 1.2, "I25.1": 2.5, "I69.3": 2.0, "J44.9": 2.2, "I48.9": 2.0,
                    "I50.9": 2.5, "N18.9": 3.0, "B18.1": 2.0, "F03": 1.5, "CANCER": 4.0, "F20.9": 3.0,
                    "A16.2": 6.0}
CONDITION_ADMISSIONS = {"I10": 0.03, "E11.9": 0.04, "I25.1": 0.22, "I69.3": 0.18, "J44.9": 0.30, "I48.9": 0.15,
                        "I50.9": 0.45, "N18.9": 0.25, "B18.1": 0.08, "F03": 0.12, "CANCER": 1.6, "F20.9": 0.15,
                        "A16.2": 0.25}

# Length of stay in days (mean) by level: hospitals 8.8 (2023 bulletin), township centres ~6.5-6.8
# (provincial yearbooks); deliveries 3 (vaginal) and 5 (caesarean).
STAY_DAYS = {"branch": 6.5, "lead": 8.5, "tcm": 9.0, "mch": 5.0, "partner": 10.5}

# Costs in yuan: median total by level and kind (our choice within the ranges the 2023 bulletin and county
# reports give: village 30-60, township outpatient 80-150, county outpatient 250-400, township inpatient
# 2,000-3,500, county inpatient 8,000-12,000, out of county 20,000+), with a log-normal spread.
COST_MEDIAN = {
    ("village", "outpatient"): 42, ("village", "home_visit"): 55,
    ("branch", "outpatient"): 105, ("branch", "emergency"): 160, ("branch", "inpatient"): 2600,
    ("lead", "outpatient"): 300, ("lead", "emergency"): 420, ("lead", "inpatient"): 10000,
    ("tcm", "outpatient"): 210, ("tcm", "emergency"): 300, ("tcm", "inpatient"): 7200,
    ("mch", "outpatient"): 190, ("mch", "emergency"): 260, ("mch", "inpatient"): 4800,
    ("partner", "outpatient"): 650, ("partner", "emergency"): 900, ("partner", "inpatient"): 26500,
}
COST_SPREAD = {"outpatient": 0.32, "emergency": 0.4, "home_visit": 0.3, "inpatient": 0.42}
# Shares of drugs, examinations, treatment (incl. surgery, nursing), beds, other (materials, registration)
COST_SPLIT = {
    "village": (0.70, 0.05, 0.20, 0.0, 0.05),
    "branch": (0.52, 0.20, 0.16, 0.0, 0.12),
    "lead": (0.42, 0.30, 0.14, 0.0, 0.14),
    "tcm": (0.55, 0.15, 0.22, 0.0, 0.08),
    "mch": (0.35, 0.30, 0.20, 0.0, 0.15),
    "partner": (0.40, 0.33, 0.12, 0.0, 0.15),
}
COST_SPLIT_INPATIENT = {
    "branch": (0.40, 0.18, 0.20, 0.12, 0.10),
    "lead": (0.30, 0.22, 0.28, 0.07, 0.13),
    "tcm": (0.38, 0.15, 0.30, 0.09, 0.08),
    "mch": (0.25, 0.20, 0.35, 0.10, 0.10),
    "partner": (0.28, 0.20, 0.32, 0.05, 0.15),
}

# Referrals (our choice; no national rate exists): at 400,000 residents this gives ~16,000 up-referrals a
# year (4 per 100 residents, one in six lead-hospital admissions), ~7,000 down-referrals and returns (the
# policy pushes them up towards the up-referrals), and a referral slip for ~45% of out-of-county admissions.
UP_FOR_LEAD_ADMISSION = 0.16  # a lead-hospital admission that came as an up-referral from the grassroots
UP_URGENT = 0.15  # of those, through the green channel (acute stroke, infarction, trauma: always)
UP_FOR_LEAD_VISIT = 0.012  # a specialist visit at the lead hospital booked by a family doctor's referral
UP_FOR_BRANCH_VISIT = 0.012  # a village resident's branch visit referred by the village doctor
DOWN_FOR_LEAD_DISCHARGE = 0.22  # a discharge with a down-referable diagnosis sent back with a care plan
DOWN_TO_VILLAGE = 0.15  # of those, to the village clinic rather than the branch
OUT_WITH_SLIP = 0.45  # an out-of-county admission with the lead hospital's referral slip
RETURN_FROM_PARTNER = 0.2  # an out-of-county discharge referred back into the county
FAILED_UP_PER_GRASSROOTS_VISIT = 0.0012  # a grassroots visit whose referral was refused, withdrawn or lapsed
# How referrals that did not happen ended, and how often a planned one fell through.
REJECT_REASONS = ("床位已满，建议择期转诊 (no bed available; refer again later)",
                  "不符合转诊指征，建议基层继续治疗 (no indication for referral; continue treatment locally)",
                  "超出本院诊疗范围 (beyond what this hospital treats)")
CANCEL_REASONS = ("患者拒绝转诊 (the patient declined the referral)",
                  "病情好转，无需转诊 (improved; no referral needed)",
                  "患者自行前往其他医院 (the patient went to another hospital)")
FAILED_OUTCOMES = {"rejected": 0.40, "cancelled": 0.25, "expired": 0.35}
FAILED_AFTER_ACCEPT = 0.3  # a cancelled or expired referral that had been accepted (its booking released)
DOWN_FAILED = {"rejected": 0.02, "cancelled": 0.015}
OUT_FAILED = {"expired": 0.05, "cancelled": 0.03}
OPEN_INBOX_MINIMUM = 6  # requests of the last day still waiting, so even the demo county's inboxes show some

# Published capacity at the lead hospital: clinic sessions (morning 08:00-12:00, afternoon 14:00-17:30) of
# every clinical department, every day (weekends half), and one daily bed slot per ward. Our choice, sized so
# the busiest sessions fill; the reserved share is the policy's (reserved_slot_share, 0.20, rounded up).
CLINIC_CAPACITY = {"weekday": 30, "weekend": 15}
BED_SLOT_PER_BED = 0.12  # new admissions a ward takes a day ≈ beds × occupancy / stay
SLOTS_AHEAD_DAYS = 14  # published beyond the as-of day
GENERAL_BOOKING_SHARE = 0.35  # lead-hospital clinic visits booked ahead (the rest walk in)
FUTURE_FILL = (0.2, 0.6)  # share of a future session's general places already booked
