"""Diagnostic centres for the test county: one centre of each kind at the lead hospital, the county's
`centre_reader` as a reader of each (on duty around `DUTY_START`..`DUTY_END` and around now), and the exam
types the tests use (created when the shipped defaults are not loaded)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from countycare.diagnostics.models import Centre, CentreKind, CentreReader, ExamType, RosterShift

# A fixed day the clock-controlled tests run in.
DUTY_START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)
DUTY_END = dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.UTC)
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

# code, name, name_en, kind, modality, loinc, recognition days, components
EXAM_TYPES = [
    ("ECG12", "十二导联心电图", "12-lead ECG", CentreKind.ECG, "ECG", "11524-6", 7, []),
    ("DR-CHEST", "胸部正位片", "Chest X-ray PA", CentreKind.IMAGING, "DX", "36643-5", 30, []),
    ("CT-HEAD", "头颅CT平扫", "CT head without contrast", CentreKind.IMAGING, "CT", "30799-1", 30, []),
    ("BMP", "急诊生化（电解质、血糖、肌酐）", "Basic metabolic panel", CentreKind.LAB, "", "51990-0", 7,
     ["2823-3", "2951-2", "2345-7", "2160-0"]),
    ("CBC", "血常规", "Complete blood count", CentreKind.LAB, "", "58410-2", 7,
     ["6690-2", "718-7", "777-3"]),
    ("TNI", "肌钙蛋白I", "Troponin I", CentreKind.LAB, "", "10839-9", 1, ["10839-9"]),
    ("BIOPSY", "活检组织病理", "Biopsy histopathology", CentreKind.PATHOLOGY, "", "22637-3", 180, []),
]
TARGETS = {  # routine, urgent, stat minutes
    CentreKind.ECG: (30, 30, 10),
    CentreKind.IMAGING: (1440, 120, 30),
    CentreKind.LAB: (240, 60, 30),
    CentreKind.PATHOLOGY: (7200, 2880, 30),
}
NAMES = {CentreKind.ECG: "心电诊断中心", CentreKind.IMAGING: "影像诊断中心", CentreKind.LAB: "医学检验中心",
         CentreKind.PATHOLOGY: "病理诊断中心"}


def ensure_exam_types() -> dict[str, ExamType]:
    found = {}
    for code, name, name_en, kind, modality, loinc, days, components in EXAM_TYPES:
        found[code] = ExamType.objects.filter(community__isnull=True, code=code).first() or ExamType.objects.create(
            code=code, name=name, name_en=name_en, centre_kind=kind, modality=modality, loinc=loinc,
            recognition_days=days, components=components)
    return found


def make_centres(county) -> dict[str, Centre]:
    """One centre per kind at the lead hospital with `centre_reader` on duty for DUTY_START..DUTY_END and
    for the 24 hours around now."""
    lead = county.orgs["lead"]
    reader = county.practitioners["centre_reader"]
    now = timezone.now()
    centres = {}
    for kind in CentreKind.values:
        routine, urgent, stat = TARGETS[kind]
        centre = Centre.objects.create(
            community=county.community, organization=lead, kind=kind, name=NAMES[kind],
            target_routine_minutes=routine, target_urgent_minutes=urgent, target_stat_minutes=stat)
        CentreReader.objects.create(centre=centre, practitioner=reader, senior=True)
        for start, end in ((DUTY_START, DUTY_END), (now - dt.timedelta(hours=12), now + dt.timedelta(hours=12))):
            RosterShift.objects.create(organization=lead, centre=centre, practitioner=reader, starts_at=start,
                                       ends_at=end)
        centres[kind] = centre
    return centres
