"""The exam request state machine, as data. `services.transition` is its only interpreter.

    requested ──acquire──▶ acquired ──claim──▶ claimed ──publish──▶ published ──revise──▶ published (v+1)
        ▲                    │  ▲                 │ │
        │                    │  └──release────────┘ └──second_reading──▶ second_reading ──claim (another
        └──reacquire── returned ◀──return (QC, reason)                                     reader)──▶ claimed
    cancel (reason): requested, acquired, returned → cancelled
    lab results (system: an analyser or a branch LIS over HL7): requested/acquired/claimed ──report_results──▶
        published ──amend_results──▶ published; preliminary results: requested/acquired ──receive_results──▶
        acquired

Who may act: the *requester* side (users covering the request's requesting organisation), the *centre* side
(readers of the centre; `claim` also needs them on duty), or the system. `release` goes back to
second_reading when a preliminary report waits for its second reader, else to acquired (services decide).
"""

from __future__ import annotations

from enum import StrEnum

from countycare.core.statemachine import Transition, by_action

from .models import ExamStatus as S


class Side(StrEnum):
    REQUESTER = "requester"
    CENTRE = "centre"
    SYSTEM = "system"


TRANSITIONS: tuple[Transition, ...] = (
    Transition("acquire", frozenset({S.REQUESTED, S.RETURNED}), S.ACQUIRED, Side.REQUESTER, False, "上传采集 Acquire"),
    Transition("return", frozenset({S.ACQUIRED}), S.RETURNED, Side.CENTRE, True, "质控退回 Return"),
    Transition("claim", frozenset({S.ACQUIRED, S.SECOND_READING}), S.CLAIMED, Side.CENTRE, False, "认领 Claim"),
    Transition("release", frozenset({S.CLAIMED}), S.ACQUIRED, Side.CENTRE, False, "放回 Release"),
    Transition("second_reading", frozenset({S.CLAIMED}), S.SECOND_READING, Side.CENTRE, False,
               "提交审核 Send for second reading"),
    Transition("publish", frozenset({S.CLAIMED}), S.PUBLISHED, Side.CENTRE, False, "发布报告 Publish"),
    Transition("revise", frozenset({S.PUBLISHED}), S.PUBLISHED, Side.CENTRE, True, "修订报告 Revise"),
    Transition("cancel", frozenset({S.REQUESTED, S.ACQUIRED, S.RETURNED}), S.CANCELLED, Side.REQUESTER, True,
               "撤销 Cancel"),
    Transition("receive_results", frozenset({S.REQUESTED, S.ACQUIRED}), S.ACQUIRED, Side.SYSTEM, False,
               "收到初步检验结果 Preliminary lab results"),
    Transition("report_results", frozenset({S.REQUESTED, S.ACQUIRED, S.CLAIMED}), S.PUBLISHED, Side.SYSTEM, False,
               "发布检验结果 Lab results released"),
    Transition("amend_results", frozenset({S.PUBLISHED}), S.PUBLISHED, Side.SYSTEM, False,
               "更正检验结果 Lab results corrected"),
)
BY_ACTION: dict[str, Transition] = by_action(TRANSITIONS)
TERMINAL = frozenset({S.CANCELLED})


def allowed_actions(status: str) -> list[Transition]:
    """The transitions a user may start from a status (for buttons; the service still checks side and
    staleness). The system's own (lab results) are not among them."""
    return [t for t in TRANSITIONS if status in t.sources and t.side != Side.SYSTEM]
