"""What the generated county's patients come with: diagnoses by level and age, chief complaints, chronic
conditions and where they are treated, vital signs, down-referral care plans.

Diagnosis menus are lists of entries (ICD-10 code, relative weight, age from, age to, sex, department code at
that level, winter factor). Codes at the grassroots stay within what the tiered-care catalogue
(`referrals/data/catalogue.csv`) lets that level treat; what lies beyond them is seen at the county, out of the
county, or arrives by referral (`tests/synth/test_activity_invariants.py` checks this against the catalogue).
Chinese names come from `records/data/icd10.csv` at run time (`icd10_names`), never from here.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

# (code, weight, age_from, age_to, sex, department code, winter factor)
Entry = tuple[str, float, int, int, str, str | None, float]
ANY = 130
F, M = "female", "male"

VILLAGE_OUTPATIENT: list[Entry] = [
    ("J06.9", 26, 0, ANY, "", None, 1.5),
    ("J00", 6, 0, ANY, "", None, 1.5),
    ("J02.9", 4, 3, ANY, "", None, 1.4),
    ("J20.9", 8, 0, ANY, "", None, 1.5),
    ("R05", 3, 0, ANY, "", None, 1.4),
    ("R50.9", 4, 0, 14, "", None, 1.3),
    ("A09.0", 4, 0, ANY, "", None, 0.8),
    ("K29.7", 6, 15, ANY, "", None, 1.0),
    ("K30", 3, 15, ANY, "", None, 1.0),
    ("M54.5", 7, 18, ANY, "", None, 1.0),
    ("M25.5", 5, 40, ANY, "", None, 1.2),
    ("R51", 3, 12, ANY, "", None, 1.0),
    ("R42", 3, 45, ANY, "", None, 1.0),
    ("L30.9", 4, 0, ANY, "", None, 0.8),
    ("L02.9", 2, 0, ANY, "", None, 0.8),
    ("T14.0", 4, 0, ANY, "", None, 0.8),
    ("T14.1", 2, 3, ANY, "", None, 0.8),
    ("H10.9", 2, 0, ANY, "", None, 1.0),
    ("N39.0", 2, 15, ANY, F, None, 1.0),
    ("B02.9", 1, 45, ANY, "", None, 1.0),
]
BRANCH_OUTPATIENT: list[Entry] = [
    ("J06.9", 16, 0, ANY, "", "02", 1.5),
    ("J02.9", 3, 3, ANY, "", "02", 1.4),
    ("J03.9", 2, 3, 40, "", "02", 1.4),
    ("J20.9", 8, 0, ANY, "", "03", 1.5),
    ("J18.9", 3, 0, ANY, "", "03", 1.6),
    ("R50.9", 3, 0, 14, "", "02", 1.3),
    ("A09.0", 3, 0, 14, "", "02", 0.8),
    ("K29.7", 7, 15, ANY, "", "03", 1.0),
    ("K52.9", 4, 15, ANY, "", "03", 0.8),
    ("K21.9", 2, 30, ANY, "", "03", 1.0),
    ("K25.9", 1, 30, ANY, "", "03", 1.0),
    ("K76.0", 1, 30, ANY, "", "03", 1.0),
    ("R42", 3, 45, ANY, "", "03", 1.0),
    ("G43.9", 1, 15, 60, "", "03", 1.0),
    ("G47.0", 2, 30, ANY, "", "50", 1.0),
    ("M54.5", 5, 18, ANY, "", "50", 1.0),
    ("M51.2", 2, 30, ANY, "", "50", 1.0),
    ("M17.9", 3, 45, ANY, "", "04", 1.1),
    ("M25.5", 3, 40, ANY, "", "50", 1.2),
    ("S93.4", 2, 10, 70, "", "04", 0.9),
    ("S52.5", 0.5, 5, ANY, "", "04", 1.0),
    ("T14.1", 2, 3, ANY, "", "04", 0.8),
    ("T14.0", 2, 0, ANY, "", "04", 0.8),
    ("L02.9", 1, 0, ANY, "", "04", 0.8),
    ("L30.9", 3, 0, ANY, "", "02", 0.8),
    ("B02.9", 1, 45, ANY, "", "02", 1.0),
    ("H66.9", 1, 0, 14, "", "02", 1.2),
    ("J30.4", 1, 5, 60, "", "02", 1.0),
    ("N39.0", 2, 15, ANY, F, "05", 1.0),
    ("N76.0", 3, 18, 64, F, "05", 1.0),
    ("N95.1", 1, 45, 59, F, "05", 1.0),
    ("N40", 1, 60, ANY, M, "04", 1.0),
    ("E78.5", 1, 40, ANY, "", "03", 1.0),
]
LEAD_OUTPATIENT: list[Entry] = [
    ("J06.9", 4, 15, ANY, "", "02", 1.5),
    ("L30.9", 1.5, 0, ANY, "", "02", 0.8),
    ("J06.9", 8, 0, 14, "", "07", 1.5),
    ("J18.9", 2, 0, 14, "", "07", 1.6),
    ("J20.9", 3, 0, 14, "", "07", 1.5),
    ("A09.0", 3, 0, 14, "", "07", 0.8),
    ("R50.9", 3, 0, 14, "", "07", 1.3),
    ("J18.9", 2, 15, ANY, "", "03.01", 1.6),
    ("J20.9", 3, 15, ANY, "", "03.01", 1.5),
    ("J45.9", 1.5, 5, ANY, "", "03.01", 1.2),
    ("R05", 1.5, 15, ANY, "", "03.01", 1.4),
    ("K29.7", 4, 15, ANY, "", "03.02", 1.0),
    ("K21.9", 2, 30, ANY, "", "03.02", 1.0),
    ("K25.9", 2, 30, ANY, "", "03.02", 1.0),
    ("K76.0", 1.5, 30, ANY, "", "03.02", 1.0),
    ("R42", 2, 40, ANY, "", "03.03", 1.0),
    ("G43.9", 1.5, 15, 60, "", "03.03", 1.0),
    ("G47.0", 1.5, 30, ANY, "", "03.03", 1.0),
    ("R07.4", 2, 35, ANY, "", "03.04", 1.1),
    ("E78.5", 1.5, 40, ANY, "", "03.07", 1.0),
    ("N39.0", 1.5, 15, ANY, F, "03.06", 1.0),
    ("K80.2", 1.5, 30, ANY, "", "04.01", 1.0),
    ("K40.9", 1, 0, ANY, M, "04.01", 1.0),
    ("L02.9", 1, 0, ANY, "", "04.01", 0.8),
    ("T14.1", 1.5, 3, ANY, "", "04.01", 0.8),
    ("M51.2", 2.5, 30, ANY, "", "04.03", 1.0),
    ("M17.9", 2, 45, ANY, "", "04.03", 1.1),
    ("M54.5", 2, 18, ANY, "", "04.03", 1.0),
    ("S93.4", 1, 10, 70, "", "04.03", 0.9),
    ("S52.5", 0.8, 5, ANY, "", "04.03", 1.0),
    ("N20.0", 1.5, 20, ANY, "", "04.04", 0.9),
    ("N40", 1.5, 55, ANY, M, "04.04", 1.0),
    ("N76.0", 2, 18, 64, F, "05.01", 1.0),
    ("D25.9", 1, 35, 59, F, "05.01", 1.0),
    ("N95.1", 1, 45, 59, F, "05.01", 1.0),
    ("H25.9", 1.5, 60, ANY, "", "10", 1.0),
    ("H10.9", 1, 0, ANY, "", "10", 1.0),
    ("J30.4", 1, 5, 60, "", "11", 1.0),
    ("H66.9", 1, 0, ANY, "", "11", 1.2),
    ("K02.9", 2, 3, ANY, "", "12", 1.0),
    ("M25.5", 1.5, 40, ANY, "", "50", 1.0),
    ("G47.0", 0.5, 30, ANY, "", "50", 1.0),
    ("M54.5", 1, 30, ANY, "", "21", 1.0),
]
LEAD_EMERGENCY: list[Entry] = [
    ("T14.1", 4, 3, ANY, "", "20", 0.8),
    ("T14.0", 3, 0, ANY, "", "20", 0.8),
    ("S06.0", 1.5, 0, ANY, "", "20", 1.0),
    ("S52.5", 1.5, 5, ANY, "", "20", 1.0),
    ("R10.4", 5, 5, ANY, "", "20", 1.0),
    ("R07.4", 2.5, 35, ANY, "", "20", 1.1),
    ("R55", 1.5, 40, ANY, "", "20", 1.0),
    ("J18.9", 2, 0, ANY, "", "20", 1.6),
    ("R50.9", 4, 0, 14, "", "20", 1.3),
    ("A09.0", 2, 0, ANY, "", "20", 0.8),
    ("N20.0", 2, 20, ANY, "", "20", 0.9),
    ("T60.0", 0.5, 15, ANY, "", "20", 0.8),
    ("J06.9", 3, 0, ANY, "", "20", 1.5),
    ("R42", 2, 40, ANY, "", "20", 1.0),
]
TCM_OUTPATIENT: list[Entry] = [
    ("M54.5", 8, 18, ANY, "", "50.10", 1.0),
    ("M51.2", 5, 30, ANY, "", "50.07", 1.0),
    ("M17.9", 4, 45, ANY, "", "50.07", 1.1),
    ("M25.5", 4, 40, ANY, "", "50.11", 1.1),
    ("G47.0", 4, 25, ANY, "", "50.01", 1.0),
    ("K29.7", 5, 15, ANY, "", "50.01", 1.0),
    ("K30", 3, 15, ANY, "", "50.01", 1.0),
    ("J20.9", 4, 0, ANY, "", "50.01", 1.5),
    ("J06.9", 4, 0, ANY, "", "50.01", 1.5),
    ("R42", 3, 40, ANY, "", "50.01", 1.0),
    ("N95.1", 2, 45, 59, F, "50.01", 1.0),
    ("L30.9", 2, 0, ANY, "", "50.02", 0.8),
    ("S93.4", 1, 10, 70, "", "50.07", 0.9),
    ("A09.0", 2, 0, 14, "", "50.01", 0.8),
    ("R50.9", 1, 0, 14, "", "50.01", 1.3),
]
MCH_OUTPATIENT: list[Entry] = [
    ("N76.0", 5, 18, 64, F, "05.01", 1.0),
    ("D25.9", 1.5, 35, 59, F, "05.01", 1.0),
    ("N95.1", 2, 45, 59, F, "06", 1.0),
    ("N39.0", 1.5, 15, 64, F, "05.01", 1.0),
    ("Z01.4", 2, 20, 64, F, "06", 1.0),
    ("J06.9", 6, 0, 14, "", "07", 1.5),
    ("J20.9", 3, 0, 14, "", "07", 1.5),
    ("A09.0", 3, 0, 14, "", "07", 0.8),
    ("R50.9", 3, 0, 14, "", "07", 1.3),
    ("J18.9", 1, 0, 14, "", "07", 1.6),
    ("H66.9", 1, 0, 14, "", "07", 1.2),
]
PARTNER_OUTPATIENT: list[Entry] = [
    ("R07.4", 1.5, 35, ANY, "", "03.04", 1.0),
    ("M51.2", 2, 30, ANY, "", None, 1.0),
    ("H25.9", 1, 60, ANY, "", None, 1.0),
    ("J45.9", 1, 5, ANY, "", None, 1.2),
    ("D25.9", 1, 35, 59, F, None, 1.0),
    ("K80.2", 1, 30, ANY, "", None, 1.0),
    ("N20.0", 1, 20, ANY, "", None, 0.9),
    ("J18.9", 1, 0, ANY, "", None, 1.6),
    ("G43.9", 1, 15, 60, "", None, 1.0),
    ("K21.9", 1, 30, ANY, "", None, 1.0),
    ("J06.9", 2, 0, 14, "", None, 1.5),
    ("K29.7", 2, 15, ANY, "", None, 1.0),
    ("M17.9", 1, 45, ANY, "", None, 1.0),
    ("R42", 1, 40, ANY, "", None, 1.0),
    ("L30.9", 1, 0, ANY, "", None, 0.8),
    ("J30.4", 1, 5, 60, "", None, 1.0),
    ("E78.5", 0.5, 40, ANY, "", None, 1.0),
]
LEAD_INPATIENT: list[Entry] = [
    ("J18.9", 5, 15, ANY, "", "03.01", 1.6),
    ("J45.9", 0.8, 5, ANY, "", "03.01", 1.2),
    ("J18.9", 5, 0, 14, "", "07", 1.6),
    ("J20.9", 2, 0, 14, "", "07", 1.5),
    ("A09.0", 2, 0, 14, "", "07", 0.8),
    ("I63.9", 6, 50, ANY, "", "03.03", 1.2),
    ("I21.9", 2, 45, ANY, "", "03.04", 1.2),
    ("I61.9", 1.5, 45, ANY, "", "04.02", 1.2),
    ("S06.0", 1, 0, ANY, "", "04.02", 1.0),
    ("S72.0", 2, 65, ANY, "", "04.03", 1.0),
    ("S52.5", 1.2, 15, ANY, "", "04.03", 1.0),
    ("M51.2", 3, 30, ANY, "", "04.03", 1.0),
    ("K35.8", 3, 5, 70, "", "04.01", 1.0),
    ("K80.2", 3, 30, ANY, "", "04.01", 1.0),
    ("K40.9", 1.5, 1, ANY, M, "04.01", 1.0),
    ("N20.0", 2, 20, ANY, "", "04.04", 0.9),
    ("N40", 1.5, 60, ANY, M, "04.04", 1.0),
    ("H25.9", 2.5, 60, ANY, "", "10", 1.0),
    ("D25.9", 1.5, 35, 59, F, "05.01", 1.0),
    ("K29.7", 1.5, 15, ANY, "", "03.02", 1.0),
    ("K25.9", 1.5, 30, ANY, "", "03.02", 1.0),
    ("T60.0", 0.5, 15, ANY, "", "28", 0.8),
    ("R55", 1, 60, ANY, "", "03.10", 1.0),
]
BRANCH_INPATIENT: list[Entry] = [
    ("J18.9", 6, 0, ANY, "", "03", 1.6),
    ("J20.9", 5, 0, ANY, "", "03", 1.5),
    ("A09.0", 3, 0, 14, "", "02", 0.8),
    ("K52.9", 3, 15, ANY, "", "03", 0.8),
    ("K29.7", 3, 15, ANY, "", "03", 1.0),
    ("K25.9", 1, 30, ANY, "", "03", 1.0),
    ("M51.2", 3, 30, ANY, "", "50", 1.0),
    ("M54.5", 2, 30, ANY, "", "50", 1.0),
    ("M17.9", 1.5, 50, ANY, "", "04", 1.0),
    ("N39.0", 2, 15, ANY, F, "03", 1.0),
    ("R42", 2, 45, ANY, "", "03", 1.0),
    ("S52.5", 0.6, 15, ANY, "", "04", 1.0),
    ("T14.1", 1, 3, ANY, "", "04", 0.8),
]
TCM_INPATIENT: list[Entry] = [
    ("M51.2", 5, 30, ANY, "", "50.07", 1.0),
    ("M54.5", 3, 30, ANY, "", "50.10", 1.0),
    ("M17.9", 3, 50, ANY, "", "50.07", 1.0),
    ("J20.9", 2, 0, ANY, "", "50.01", 1.5),
    ("K29.7", 2, 15, ANY, "", "50.01", 1.0),
    ("G47.0", 1, 30, ANY, "", "50.01", 1.0),
    ("S52.5", 1, 15, ANY, "", "50.07", 1.0),
    ("R42", 1.5, 45, ANY, "", "50.01", 1.0),
]
MCH_INPATIENT: list[Entry] = [
    ("J18.9", 4, 0, 14, "", "07", 1.6),
    ("A09.0", 3, 0, 14, "", "07", 0.8),
    ("J20.9", 3, 0, 14, "", "07", 1.5),
    ("D25.9", 2, 35, 59, F, "05.01", 1.0),
]
PARTNER_INPATIENT: list[Entry] = [
    ("I21.9", 2, 45, ANY, "", "03.04", 1.2),
    ("I61.9", 2, 45, ANY, "", "04.02", 1.2),
    ("I63.9", 2, 50, ANY, "", None, 1.2),
    ("S72.0", 1.5, 60, ANY, "", None, 1.0),
    ("S06.0", 1, 0, ANY, "", "04.02", 1.0),
    ("M51.2", 1.5, 30, ANY, "", None, 1.0),
    ("H25.9", 1, 60, ANY, "", None, 1.0),
    ("K80.2", 1.5, 30, ANY, "", None, 1.0),
    ("J18.9", 1.5, 0, ANY, "", None, 1.6),
    ("D25.9", 1, 35, 59, F, None, 1.0),
    ("N20.0", 1, 20, ANY, "", None, 0.9),
    ("K35.8", 0.8, 5, 70, "", None, 1.0),
]
OUTPATIENT_MENUS = {
    "village": VILLAGE_OUTPATIENT,
    "branch": BRANCH_OUTPATIENT,
    "lead": LEAD_OUTPATIENT,
    "tcm": TCM_OUTPATIENT,
    "mch": MCH_OUTPATIENT,
    "partner": PARTNER_OUTPATIENT,
}
EMERGENCY_MENUS = {"lead": LEAD_EMERGENCY}  # elsewhere an emergency draws from the outpatient menu
INPATIENT_MENUS = {
    "branch": BRANCH_INPATIENT,
    "lead": LEAD_INPATIENT,
    "tcm": TCM_INPATIENT,
    "mch": MCH_INPATIENT,
    "partner": PARTNER_INPATIENT,
}

# --- chronic conditions ----------------------------------------------------------------------------------
# The tag a resident carries -> the condition's code.
TAG_CONDITIONS = {"hypertension": "I10", "diabetes": "E11.9", "severe_mental": "F20.9", "tuberculosis": "A16.2"}
# A drawn cancer: (code, weight for men, weight for women) after the National Cancer Center's incidence
# ranking (lung, colorectal, stomach, liver; breast for women).
CANCERS = (("C34.9", 3.0, 1.6), ("C16.9", 1.5, 0.7), ("C22.0", 1.5, 0.5), ("C18.9", 1.2, 1.0), ("C50.9", 0.0, 2.0))
# Where a condition's visits and admissions happen: (level, weight, department code there).
Setting = tuple[str, float, str | None]
CONDITION_VISIT_SETTINGS: dict[str, list[Setting]] = {
    "I10": [("village", 0.50, None), ("branch", 0.32, "03"), ("lead", 0.13, "03.04"), ("partner", 0.05, None)],
    "E11.9": [("village", 0.40, None), ("branch", 0.32, "03"), ("lead", 0.22, "03.07"), ("partner", 0.06, None)],
    "I25.1": [("branch", 0.40, "03"), ("lead", 0.50, "03.04"), ("partner", 0.10, "03.04")],
    "I69.3": [("branch", 0.45, "03"), ("lead", 0.30, "21"), ("tcm", 0.15, "50.10"), ("partner", 0.10, None)],
    "J44.9": [("branch", 0.50, "03"), ("lead", 0.42, "03.01"), ("partner", 0.08, None)],
    "I48.9": [("lead", 0.85, "03.04"), ("partner", 0.15, "03.04")],
    "I50.9": [("lead", 0.85, "03.04"), ("partner", 0.15, "03.04")],
    "N18.9": [("lead", 0.80, "03.06"), ("partner", 0.20, None)],
    "B18.1": [("lead", 0.75, "16"), ("partner", 0.25, None)],
    "F03": [("village", 0.30, None), ("branch", 0.40, "03"), ("lead", 0.30, "03.10")],
    "F20.9": [("lead", 0.50, "03.03"), ("partner", 0.50, None)],
    "A16.2": [("lead", 0.85, "16"), ("partner", 0.15, None)],
    "CANCER": [("lead", 0.55, "19"), ("partner", 0.45, "19")],
}
CONDITION_ADMISSION_SETTINGS: dict[str, list[Setting]] = {
    "I10": [("branch", 0.55, "03"), ("lead", 0.40, "03.04"), ("tcm", 0.05, "50.01")],
    "E11.9": [("branch", 0.45, "03"), ("lead", 0.50, "03.07"), ("partner", 0.05, None)],
    "I25.1": [("branch", 0.20, "03"), ("lead", 0.55, "03.04"), ("partner", 0.25, "03.04")],
    "I69.3": [("branch", 0.45, "03"), ("lead", 0.30, "21"), ("tcm", 0.25, "50.10")],
    "J44.9": [("branch", 0.45, "03"), ("lead", 0.50, "03.01"), ("partner", 0.05, None)],
    "I48.9": [("lead", 0.80, "03.04"), ("partner", 0.20, "03.04")],
    "I50.9": [("lead", 0.85, "03.04"), ("partner", 0.15, "03.04")],
    "N18.9": [("lead", 0.75, "03.06"), ("partner", 0.25, None)],
    "B18.1": [("lead", 0.70, "16"), ("partner", 0.30, None)],
    "F03": [("branch", 0.40, "03"), ("lead", 0.60, "03.10")],
    "F20.9": [("lead", 0.40, "03.03"), ("partner", 0.60, None)],
    "A16.2": [("lead", 0.80, "16"), ("partner", 0.20, None)],
    "CANCER": [("lead", 0.55, "19"), ("partner", 0.45, "19")],
}
CONDITION_WINTER = {"J44.9": 1.6, "I50.9": 1.3, "I25.1": 1.2, "I10": 1.1}
CHEMOTHERAPY = "Z51.1"
CHEMOTHERAPY_SHARE = 0.65  # of a cancer patient's admissions (the rest: surgery or complications)
CANCER_SURGERY_DEPARTMENT = {"C34.9": "04.05", "C16.9": "04.01", "C22.0": "04.01", "C18.9": "04.01",
                             "C50.9": "04.01"}

# Up-referrals through the green channel are always urgent for these.
URGENT_CODES = frozenset({"I63.9", "I61.9", "I21.9", "S72.0", "S06.0", "T60.0"})
# Lead-hospital discharges that go back down when stable (the catalogue's down_referable ranges); the
# down-referral carries these codes.
DOWN_REFERABLE_PREFIXES = ("A15", "A16", "B18", "C16", "C22", "C34", "C50", "E11", "I10", "I21", "I25", "I48",
                           "I50", "I61", "I63", "I69", "J18", "J44", "J45", "M17", "M51", "N18", "S06", "S52",
                           "S72")
# Deliveries and what follows them.
DELIVERY_CODES = ("O80", "O82")
PRENATAL = "Z34.9"
CHILD_CHECK = "Z00.1"

# --- chief complaints -----------------------------------------------------------------------------------
# {d} days, {w} weeks, {m} months, {h} hours; {name} the diagnosis' Chinese name.
COMPLAINTS: dict[str, tuple[str, ...]] = {
    "J06.9": ("咳嗽、流涕{d}天", "咽痛、鼻塞{d}天", "发热、咽痛{d}天"),
    "J00": ("鼻塞、流涕{d}天", "打喷嚏、流涕{d}天"),
    "J02.9": ("咽痛{d}天",),
    "J03.9": ("咽痛、发热{d}天",),
    "J20.9": ("咳嗽、咳痰{d}天",),
    "J18.9": ("发热、咳嗽{d}天", "咳嗽、气促{d}天"),
    "J45.9": ("反复喘息{d}天",),
    "J30.4": ("鼻痒、打喷嚏{w}周",),
    "R05": ("咳嗽{d}天",),
    "R50.9": ("发热{d}天",),
    "A09.0": ("腹泻{d}天", "腹泻、呕吐{d}天"),
    "K52.9": ("腹痛、腹泻{d}天",),
    "K29.7": ("上腹部不适{d}天", "胃痛{d}天"),
    "K30": ("腹胀、食欲差{d}天",),
    "K21.9": ("反酸、烧心{w}周",),
    "K25.9": ("上腹痛{w}周",),
    "K76.0": ("体检发现脂肪肝",),
    "K80.2": ("右上腹痛{d}天",),
    "K35.8": ("转移性右下腹痛{h}小时",),
    "K40.9": ("腹股沟区可复性包块{m}月",),
    "K02.9": ("牙痛{d}天",),
    "M54.5": ("腰痛{d}天", "腰痛{w}周"),
    "M51.2": ("腰痛伴下肢放射痛{w}周",),
    "M17.9": ("膝关节疼痛{m}月",),
    "M25.5": ("关节疼痛{w}周",),
    "R51": ("头痛{d}天",),
    "R42": ("头晕{d}天",),
    "G43.9": ("反复头痛{m}月",),
    "G47.0": ("失眠{m}月",),
    "L30.9": ("皮肤瘙痒、皮疹{d}天",),
    "L02.9": ("皮肤红肿疼痛{d}天",),
    "B02.9": ("皮疹伴疼痛{d}天",),
    "T14.0": ("摔伤{h}小时",),
    "T14.1": ("外伤致皮肤裂伤{h}小时",),
    "S93.4": ("扭伤踝部{h}小时",),
    "S52.5": ("摔倒致腕部肿痛{h}小时",),
    "S72.0": ("摔倒致髋部疼痛、不能行走{h}小时",),
    "S06.0": ("头部外伤{h}小时",),
    "H10.9": ("眼红、分泌物增多{d}天",),
    "H25.9": ("视物模糊{m}月",),
    "H66.9": ("耳痛{d}天",),
    "N39.0": ("尿频、尿急{d}天",),
    "N76.0": ("白带异常{d}天",),
    "N95.1": ("潮热、心烦{m}月",),
    "N40": ("排尿困难{m}月",),
    "N20.0": ("腰腹部绞痛{h}小时",),
    "D25.9": ("月经量多{m}月",),
    "R07.4": ("胸痛{h}小时", "胸闷、胸痛{d}天"),
    "R10.4": ("腹痛{h}小时",),
    "R55": ("突发晕厥{h}小时",),
    "T60.0": ("误服农药{h}小时",),
    "I63.9": ("突发一侧肢体无力{h}小时", "突发言语不清{h}小时"),
    "I61.9": ("突发头痛、呕吐伴意识障碍{h}小时",),
    "I21.9": ("持续胸痛{h}小时",),
    "E78.5": ("体检发现血脂异常",),
    "Z01.4": ("妇科检查",),
    "Z00.1": ("儿童健康检查",),
    "Z34.9": ("产前检查",),
    "O80": ("孕足月，规律宫缩{h}小时",),
    "O82": ("孕足月，规律宫缩{h}小时",),
    "I10": ("头晕、血压控制不佳{d}天", "高血压复诊取药"),
    "E11.9": ("口干、多饮{w}周", "糖尿病复诊取药"),
    "I25.1": ("活动后胸闷{w}周", "冠心病复诊"),
    "I69.3": ("脑梗死后肢体活动不利复诊",),
    "J44.9": ("咳嗽、气喘加重{d}天", "慢阻肺复诊"),
    "I48.9": ("心悸{d}天",),
    "I50.9": ("活动后气促、双下肢水肿{d}天",),
    "N18.9": ("慢性肾脏病复诊",),
    "B18.1": ("乙肝复诊",),
    "F03": ("记忆力下降{m}月",),
    "F20.9": ("精神分裂症复诊取药",),
    "A16.2": ("肺结核复诊取药",),
    "Z51.1": ("肿瘤化疗",),
}
FOLLOW_UP_COMPLAINTS = {
    ("I10",): "高血压随访",
    ("E11.9",): "糖尿病随访",
    ("I10", "E11.9"): "高血压、糖尿病随访",
}

# --- vital signs and measurements (LOINC) ------------------------------------------------------------------
# code, Chinese display, unit, reference low, reference high, category
SYSTOLIC = ("8480-6", "收缩压", "mm[Hg]", "90", "139", "vital-signs")
DIASTOLIC = ("8462-4", "舒张压", "mm[Hg]", "60", "89", "vital-signs")
HEART_RATE = ("8867-4", "心率", "/min", "60", "100", "vital-signs")
TEMPERATURE = ("8310-5", "体温", "Cel", "36.0", "37.3", "vital-signs")
WEIGHT = ("29463-7", "体重", "kg", None, None, "vital-signs")
HEIGHT = ("8302-2", "身高", "cm", None, None, "vital-signs")
RESPIRATORY_RATE = ("9279-1", "呼吸频率", "/min", "12", "20", "vital-signs")
FASTING_GLUCOSE = ("1558-6", "空腹血糖", "mmol/L", "3.9", "6.1", "laboratory")
FEVER_CODES = frozenset({"R50.9", "J06.9", "J18.9", "J03.9", "A09.0", "J20.9"})

# --- care plans -------------------------------------------------------------------------------------------
Medicine = dict[str, object]
ASPIRIN: Medicine = {"name": "阿司匹林肠溶片", "dose": "100 mg", "frequency": "每日一次", "days": 30}
STATIN: Medicine = {"name": "阿托伐他汀钙片", "dose": "20 mg", "frequency": "每晚一次", "days": 30}
CLOPIDOGREL: Medicine = {"name": "硫酸氢氯吡格雷片", "dose": "75 mg", "frequency": "每日一次", "days": 30}
METOPROLOL: Medicine = {"name": "琥珀酸美托洛尔缓释片", "dose": "47.5 mg", "frequency": "每日一次", "days": 30}
AMLODIPINE: Medicine = {"name": "苯磺酸氨氯地平片", "dose": "5 mg", "frequency": "每日一次", "days": 30}
METFORMIN: Medicine = {"name": "盐酸二甲双胍片", "dose": "0.5 g", "frequency": "每日三次", "days": 30}
CARE_PLANS: dict[str, tuple[str, list[Medicine], list[str], str]] = {
    # code prefix: treatment summary, medicines, follow-up items, warning signs
    "I63": ("急性脑梗死，经抗血小板、调脂、改善循环治疗后病情稳定", [ASPIRIN, STATIN],
            ["康复训练评估", "复查血脂、肝功能", "神经内科门诊复诊"],
            "再次出现肢体无力、言语不清、口角歪斜、意识改变时立即拨打120或返院"),
    "I61": ("脑出血保守治疗后病情稳定，血压控制平稳", [AMLODIPINE],
            ["康复训练评估", "复查头颅CT", "神经外科门诊复诊"],
            "剧烈头痛、呕吐、肢体无力加重或意识改变时立即返院"),
    "I21": ("急性心肌梗死经治疗后病情稳定", [ASPIRIN, CLOPIDOGREL, STATIN, METOPROLOL],
            ["复查心电图、心肌酶", "复查血脂、肝功能", "心内科门诊复诊"],
            "胸痛持续超过15分钟、呼吸困难、晕厥时立即拨打120"),
    "I25": ("冠心病经治疗后症状缓解", [ASPIRIN, STATIN, METOPROLOL], ["复查心电图", "心内科门诊复诊"],
            "胸痛发作频繁或持续不缓解时立即返院"),
    "I48": ("心房颤动，心室率控制满意", [METOPROLOL], ["复查心电图、凝血功能", "心内科门诊复诊"],
            "心悸加重、晕厥、肢体无力时立即返院"),
    "I50": ("心力衰竭经利尿、强心治疗后好转", [{"name": "呋塞米片", "dose": "20 mg", "frequency": "每日一次",
                                                  "days": 14}, METOPROLOL],
            ["每日称体重", "复查电解质、肾功能", "心内科门诊复诊"], "气促加重、不能平卧、下肢水肿加重时立即返院"),
    "I10": ("高血压经调整降压方案后血压控制平稳", [AMLODIPINE], ["每周测量血压", "复查肾功能"],
            "血压持续高于180/110 mmHg或出现胸痛、头痛剧烈时立即返院"),
    "I69": ("脑梗死后遗症，康复治疗中", [ASPIRIN, STATIN], ["康复训练", "复查血脂"], "出现新的神经功能缺损时返院"),
    "E11": ("2型糖尿病经调整降糖方案后血糖控制改善", [METFORMIN], ["每周测空腹血糖", "复查糖化血红蛋白"],
            "血糖持续高于16.7 mmol/L或低于3.9 mmol/L、意识改变时立即返院"),
    "J18": ("肺炎经抗感染治疗后好转", [], ["复查血常规", "2-4周后复查胸片"], "再次发热、咳嗽加重、呼吸困难时返院"),
    "J44": ("慢阻肺急性加重经治疗后好转", [{"name": "噻托溴铵粉吸入剂", "dose": "18 μg", "frequency": "每日一次",
                                                "days": 30}], ["肺功能复查", "呼吸科门诊复诊"],
            "气喘加重、口唇发绀、意识改变时立即返院"),
    "J45": ("哮喘急性发作经治疗后缓解", [{"name": "布地奈德福莫特罗吸入剂", "dose": "160/4.5 μg",
                                           "frequency": "每日两次", "days": 30}], ["呼吸科门诊复诊"],
            "喘息加重、吸入药物不能缓解时立即返院"),
    "S72": ("股骨颈骨折术后，伤口愈合良好", [{"name": "碳酸钙D3片", "dose": "600 mg", "frequency": "每日一次",
                                              "days": 60}], ["伤口换药、拆线", "术后康复训练", "骨科门诊复查X线"],
            "伤口红肿渗液、发热、患肢疼痛加重或肿胀时返院"),
    "S52": ("桡骨远端骨折复位固定后", [], ["复查X线", "功能锻炼"], "手指麻木、青紫、肿胀加重时立即返院"),
    "S06": ("颅脑外伤经治疗后病情稳定", [], ["复查头颅CT", "神经外科门诊复诊"], "头痛加重、呕吐、嗜睡时立即返院"),
    "M51": ("腰椎间盘突出症经治疗后症状缓解", [], ["康复理疗", "骨科门诊复诊"],
            "下肢麻木无力加重、大小便障碍时立即返院"),
    "M17": ("膝关节骨关节炎经治疗后疼痛缓解", [], ["康复理疗"], "关节红肿热痛明显时返院"),
    "N18": ("慢性肾脏病，肾功能稳定", [], ["复查肾功能、电解质", "肾内科门诊复诊"], "尿量明显减少、水肿加重时返院"),
    "C": ("肿瘤综合治疗后病情稳定", [], ["按疗程返院化疗", "复查血常规、肝肾功能"], "发热、出血、剧烈疼痛时立即返院"),
    "A16": ("肺结核强化期治疗结束，转回基层督导服药", [{"name": "异烟肼片", "dose": "0.3 g", "frequency": "每日一次",
                                                      "days": 30}], ["督导服药", "每月复查肝功能", "复查痰涂片"],
            "咯血、高热、皮肤巩膜黄染时立即返院"),
    "B18": ("慢性乙型肝炎，抗病毒治疗中", [{"name": "恩替卡韦片", "dose": "0.5 mg", "frequency": "每日一次",
                                          "days": 30}], ["每3个月复查肝功能、HBV-DNA"], "乏力、黄疸、腹胀时返院"),
}
DEFAULT_CARE_PLAN = ("住院治疗后病情稳定", [], ["门诊复诊"], "病情变化时及时返院")
FOLLOW_UP_DAYS = (14, 30, 90)


def care_plan_for(code: str) -> tuple[str, list[Medicine], list[str], str]:
    for prefix in (code[:3], code[:1]):
        if prefix in CARE_PLANS:
            return CARE_PLANS[prefix]
    return DEFAULT_CARE_PLAN


# --- the code set ------------------------------------------------------------------------------------------
ICD10_FILE = Path(__file__).resolve().parent.parent / "records" / "data" / "icd10.csv"


def codes_used() -> set[str]:
    """Every ICD-10 code the activity generator may write."""
    menus = (*OUTPATIENT_MENUS.values(), *EMERGENCY_MENUS.values(), *INPATIENT_MENUS.values())
    codes = {e[0] for menu in menus for e in menu}
    codes |= {c for c in CONDITION_VISIT_SETTINGS if c != "CANCER"} | {c for c, _, _ in CANCERS}
    codes |= set(TAG_CONDITIONS.values()) | set(DELIVERY_CODES) | {PRENATAL, CHILD_CHECK, CHEMOTHERAPY}
    return codes


@cache
def icd10_names(path: Path = ICD10_FILE) -> dict[str, tuple[str, bool]]:
    """code -> (Chinese name, chronic) for the codes the generator uses, read from the shipped code set."""
    wanted = codes_used()
    found: dict[str, tuple[str, bool]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["code"].strip()
            if code in wanted:
                found[code] = (row["name"].strip(), row.get("chronic", "").strip().lower() in ("1", "true"))
    missing = sorted(wanted - set(found))
    if missing:
        raise LookupError(f"{path} lacks ICD-10 code(s) the activity generator uses: {', '.join(missing)}")
    return found
