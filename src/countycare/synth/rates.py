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
