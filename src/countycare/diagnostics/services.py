"""Every write of the shared diagnostic centres. CONTRACT SKELETON: signatures are fixed (other modules
call them); bodies are filled in by the services work. One transaction per function, audited inside it;
transitions are conditional UPDATEs on (version, status) whose row count says who won (409 otherwise).
Every function that takes `now` uses it as the clock (tests control time); None means timezone.now().
`channel` is the audit channel ("web", "api", "fhir", "hl7", "cli").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from countycare.registry.models import Organization, Resident

from .models import (
    Acquisition,
    Centre,
    CriticalAlert,
    CriticalRule,
    ExamRequest,
    ExamType,
    RecognitionCheck,
    Report,
)


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    media_type: str
    content: bytes


# --- requests and recognition ------------------------------------------------------------------------------

def centre_for(*, exam_type: ExamType, organization: Organization) -> Centre:
    """The centre that serves this exam for a requesting organisation: the active centre of the exam's kind
    in the community (the lead hospital's first; a branch's own centre of that kind if it has one for lab).
    NotFound (404) when the community has none."""
    raise NotImplementedError


def request_exam(*, user: Any, resident: Resident, exam_type: ExamType, clinical_question: str,
                 priority: str = "routine", encounter: Any = None, centre: Centre | None = None,
                 repeat_reason: str = "", channel: str = "web", now: dt.datetime | None = None,
                 within: Callable[[ExamRequest], None] | None = None) -> ExamRequest:
    """Create a request (status requested, a new accession number). If the resident has a recognised, valid
    result of this exam type (queries.recognised_result) and `repeat_reason` is blank, raise
    `RecognisedResultExists` (409, carrying `.report`) and create nothing; with a reason, record a
    RecognitionCheck(decision=repeated) and link `recognised_report`. Scope: the resident must be in the
    user's scope (404 otherwise); the user must be a clinician (403)."""
    raise NotImplementedError


def use_recognised_result(*, user: Any, resident: Resident, exam_type: ExamType, report: Report,
                          channel: str = "web", now: dt.datetime | None = None) -> RecognitionCheck:
    """The clinician accepts the recognised result instead of ordering: RecognitionCheck(decision=avoided)."""
    raise NotImplementedError


def cancel_request(*, user: Any, request: ExamRequest, reason: str, expected_version: int,
                   channel: str = "web", now: dt.datetime | None = None) -> ExamRequest:
    raise NotImplementedError


# --- acquisitions ------------------------------------------------------------------------------------------

def attach_ecg(*, user: Any, request: ExamRequest, files: Sequence[UploadedFile], expected_version: int,
               channel: str = "web", now: dt.datetime | None = None) -> Acquisition:
    """Attach a 12-lead ECG: either a WFDB pair (.hea + .dat) or one CSV of leads (ecg.read_upload decides).
    Parses it (422 on a bad file, nothing stored), stores the files as Blobs, computes the pre-read
    (ecg.analyse), sets the request's rank (a critical flag raises the effective priority to stat) and moves
    the request to acquired."""
    raise NotImplementedError


def attach_dicom(*, user: Any, request: ExamRequest, files: Sequence[UploadedFile], expected_version: int,
                 channel: str = "web", now: dt.datetime | None = None) -> Acquisition:
    """Send DICOM instances to Orthanc (imaging.OrthancClient), keep study and series references, move the
    request to acquired. 422 if a file is not DICOM or the patient/modality does not fit; 503 if Orthanc is
    unreachable; nothing is stored in either case."""
    raise NotImplementedError


def attach_specimen(*, user: Any, request: ExamRequest, specimen_type: str, specimen_id: str = "",
                    collected_at: dt.datetime | None = None, site: str = "", note: str = "",
                    slides: Sequence[UploadedFile] = (), expected_version: int, channel: str = "web",
                    now: dt.datetime | None = None) -> Acquisition:
    """Lab sample or pathology specimen (with slide images as attachments). Moves the request to acquired."""
    raise NotImplementedError


def return_acquisition(*, user: Any, request: ExamRequest, reason: str, expected_version: int,
                       channel: str = "web", now: dt.datetime | None = None) -> ExamRequest:
    """Quality control sends the acquisition back with a reason (centre side). The acquisition stays,
    marked returned and not current; the requester acquires again."""
    raise NotImplementedError


# --- reading -----------------------------------------------------------------------------------------------

def on_duty(*, practitioner: Any, centre: Centre, at: dt.datetime) -> bool:
    raise NotImplementedError


def claim(*, user: Any, request: ExamRequest, expected_version: int | None = None, channel: str = "web",
          now: dt.datetime | None = None) -> ExamRequest:
    """A reader on duty at the request's centre claims it (acquired or second_reading; a second reading
    cannot be claimed by the preliminary report's author). Conditional UPDATE: of two readers claiming at
    once exactly one wins, the other gets 409. 403 for someone not a reader or not on duty."""
    raise NotImplementedError


def claim_next(*, user: Any, centre: Centre, channel: str = "web", now: dt.datetime | None = None
               ) -> ExamRequest | None:
    """Claim the top of the worklist (queries.worklist order), skipping items claimed concurrently."""
    raise NotImplementedError


def release(*, user: Any, request: ExamRequest, expected_version: int, channel: str = "web",
            now: dt.datetime | None = None) -> ExamRequest:
    raise NotImplementedError


def write_report(*, user: Any, request: ExamRequest, findings: str, conclusion: str, expected_version: int,
                 template_code: str = "", critical: bool = False, critical_finding: str = "",
                 second_reading: bool = False, channel: str = "web", now: dt.datetime | None = None) -> Report:
    """The claiming reader reports. `second_reading=True`: a preliminary report, request → second_reading.
    Otherwise publish: final (or, when the claimer is the second reader, the final report with `verifier`
    set), request → published, reported_at stamped, recognised_until set when the centre is
    quality-controlled; the conclusion reaches the shared record (an Observation of category exam/imaging
    with the report text, linked in request.observations). `critical=True` raises a critical alert
    (raise_critical) with `critical_finding`."""
    raise NotImplementedError


def revise_report(*, user: Any, request: ExamRequest, findings: str, conclusion: str, reason: str,
                  expected_version: int, critical: bool = False, critical_finding: str = "",
                  channel: str = "web", now: dt.datetime | None = None) -> Report:
    """A new version (status amended); the previous one becomes superseded and not current; every version is
    kept. Reason required (422)."""
    raise NotImplementedError


def publish_lab_results(*, request: ExamRequest, results: Sequence[dict[str, Any]], verifier: Any = None,
                        final: bool = True, channel: str = "hl7", now: dt.datetime | None = None,
                        actor: Any = None) -> Report:
    """Lab results for a request (from an HL7 ORU^R01, already parsed and validated by lab.py): each result
    dict has code (LOINC or local), display, value (Decimal or text), unit, reference_low, reference_high,
    interpretation, observed_at. Creates records.Observations (category laboratory) linked to the request,
    moves it to published with a report listing the results, and raises a critical alert for any value
    beyond an active CriticalRule. A repeat message for a published request revises (amended)."""
    raise NotImplementedError


# --- critical values ---------------------------------------------------------------------------------------

def raise_critical(*, request: ExamRequest, finding: str, rule: CriticalRule | None = None,
                   observation: Any = None, raised_by: Any = None, channel: str = "web",
                   now: dt.datetime | None = None) -> CriticalAlert:
    """Notify the ordering clinician at once (alert open, ack due after critical_value_ack_minutes)."""
    raise NotImplementedError


def acknowledge_alert(*, user: Any, alert: CriticalAlert, action_taken: str = "", channel: str = "web",
                      now: dt.datetime | None = None) -> CriticalAlert:
    """The ordering clinician (or the duty doctor it escalated to, or anyone at the notified organisation)
    acknowledges; stamps request.acknowledged_at. A second acknowledgement is a 409."""
    raise NotImplementedError


def escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Escalate every open alert past ack_due_at to the duty doctor on the roster of the requesting
    organisation's branch (a village clinic's township; a branch itself); logs each step. Returns the
    number escalated. Run every minute by `countycare escalatecritical`."""
    raise NotImplementedError
