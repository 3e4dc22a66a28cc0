"""Measurements a clinician records at an encounter, coded in LOINC with UCUM units, and the range a living
person's value can fall in. A value outside that range is a typing error (a temperature of 375, a weight in
jin instead of kg), not a finding: it is refused with a message naming the measurement.

The ranges are deliberately wide (they bound what is physiologically possible, not what is normal); the
interpretation of a value (high, low) is the clinician's and the diagnostic modules'.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .models import ObservationCategory


@dataclass(frozen=True)
class Measure:
    code: str  # LOINC
    name: str  # Chinese, as shown
    name_en: str
    unit: str  # UCUM, as stored and sent in FHIR
    unit_display: str  # as a Chinese clinic writes it
    low: Decimal
    high: Decimal
    category: str = ObservationCategory.VITAL_SIGNS


SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
HEART_RATE = "8867-4"
TEMPERATURE = "8310-5"
RESPIRATORY_RATE = "9279-1"
OXYGEN_SATURATION = "59408-5"
WEIGHT = "29463-7"
HEIGHT = "8302-2"
BMI = "39156-5"
# Capillary or venous glucose in mmol/L, as Chinese clinics measure it: LOINC 15074-8 (Glucose [Moles/volume]
# in Blood). 2339-0 is the same analyte in mg/dL, a unit Chinese clinics do not use.
BLOOD_GLUCOSE = "15074-8"
FASTING_GLUCOSE = "14771-0"  # Fasting glucose [Moles/volume] in Serum or Plasma: diabetes follow-ups

MEASURES: dict[str, Measure] = {m.code: m for m in [
    Measure(SYSTOLIC, "收缩压", "Systolic blood pressure", "mm[Hg]", "mmHg", Decimal(40), Decimal(300)),
    Measure(DIASTOLIC, "舒张压", "Diastolic blood pressure", "mm[Hg]", "mmHg", Decimal(20), Decimal(200)),
    Measure(HEART_RATE, "心率", "Heart rate", "/min", "次/分", Decimal(20), Decimal(300)),
    Measure(TEMPERATURE, "体温", "Body temperature", "Cel", "℃", Decimal(30), Decimal(45)),
    Measure(RESPIRATORY_RATE, "呼吸频率", "Respiratory rate", "/min", "次/分", Decimal(4), Decimal(80)),
    Measure(OXYGEN_SATURATION, "血氧饱和度", "Oxygen saturation", "%", "%", Decimal(50), Decimal(100)),
    Measure(WEIGHT, "体重", "Body weight", "kg", "kg", Decimal("0.3"), Decimal(400)),
    Measure(HEIGHT, "身高", "Body height", "cm", "cm", Decimal(20), Decimal(260)),
    Measure(BMI, "体质指数", "Body mass index", "kg/m2", "kg/m²", Decimal(5), Decimal(100)),
    Measure(BLOOD_GLUCOSE, "血糖", "Glucose in blood", "mmol/L", "mmol/L", Decimal("0.5"), Decimal(60),
            ObservationCategory.LABORATORY),
    Measure(FASTING_GLUCOSE, "空腹血糖", "Fasting glucose", "mmol/L", "mmol/L", Decimal("0.5"), Decimal(60),
            ObservationCategory.LABORATORY),
]}

# Units as people type them, to the UCUM code stored.
UNIT_SPELLINGS = {
    "mmhg": "mm[Hg]", "mm hg": "mm[Hg]", "mm[hg]": "mm[Hg]", "毫米汞柱": "mm[Hg]",
    "/min": "/min", "bpm": "/min", "次/分": "/min", "次/分钟": "/min", "1/min": "/min", "{beats}/min": "/min",
    "{breaths}/min": "/min",
    "cel": "Cel", "°c": "Cel", "℃": "Cel", "c": "Cel", "摄氏度": "Cel",
    "%": "%",
    "kg": "kg", "公斤": "kg", "千克": "kg",
    "cm": "cm", "厘米": "cm",
    "kg/m2": "kg/m2", "kg/m²": "kg/m2",
    "mmol/l": "mmol/L",
}


def ucum(unit: str) -> str:
    text = " ".join(unit.split())
    return UNIT_SPELLINGS.get(text.lower(), text)


def short_label(code: str) -> str:
    measure = MEASURES.get(code)
    return measure.name if measure else code
