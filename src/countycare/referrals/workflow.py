"""The referral state machine, as data. `services.transition` is its only interpreter.

    requested ──accept──▶ accepted ──arrive──▶ arrived ──complete──▶ completed
        │                    │
        ├──reject (reason)   ├──cancel (reason)
        ├──cancel (reason)   └──expire (not arrived by due_at)
        └──expire

Who may act: the *receiving* side (users covering the referral's to-organisation), the *sending* side
(users covering its from-organisation), or the system (the expiry sweep). An out-of-county partner has no
users here, so for out-of-county referrals the lead hospital's referral office records the partner's steps:
the sending side acts for the receiver.
"""

from __future__ import annotations

from enum import StrEnum

from countycare.core.statemachine import Transition, by_action

from .models import ReferralStatus as S


class Side(StrEnum):
    RECEIVER = "receiver"
    SENDER = "sender"
    SYSTEM = "system"


TRANSITIONS: tuple[Transition, ...] = (
    Transition("accept", frozenset({S.REQUESTED}), S.ACCEPTED, Side.RECEIVER, False, "接收 Accept"),
    Transition("reject", frozenset({S.REQUESTED}), S.REJECTED, Side.RECEIVER, True, "拒收 Reject"),
    Transition("cancel", frozenset({S.REQUESTED, S.ACCEPTED}), S.CANCELLED, Side.SENDER, True, "撤销 Cancel"),
    Transition("arrive", frozenset({S.ACCEPTED}), S.ARRIVED, Side.RECEIVER, False, "已到诊 Arrived"),
    Transition("complete", frozenset({S.ARRIVED}), S.COMPLETED, Side.RECEIVER, False, "完成 Complete"),
    Transition("expire", frozenset({S.REQUESTED, S.ACCEPTED}), S.EXPIRED, Side.SYSTEM, False, "过期 Expire"),
)
BY_ACTION: dict[str, Transition] = by_action(TRANSITIONS)
TERMINAL = frozenset({S.COMPLETED, S.REJECTED, S.CANCELLED, S.EXPIRED})


def allowed_actions(status: str) -> list[Transition]:
    """The transitions open from a status (for buttons; the service still checks side and staleness)."""
    return [t for t in TRANSITIONS if status in t.sources]
