"""The shape every state machine of the platform is written in: transitions as data (`referrals/workflow.py`,
`diagnostics/workflow.py`), each interpreted by its app's services as one conditional UPDATE."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    side: str  # the app's Side: who may take the step
    reason_required: bool
    label: str  # Chinese-first label for buttons and history


def by_action(transitions: Iterable[Transition]) -> dict[str, Transition]:
    return {t.action: t for t in transitions}
