"""Domain errors. Services raise them; the page, JSON API and FHIR layers turn them into a 4xx with the
message (FHIR: an OperationOutcome). Messages are written for a clinician: Chinese first, then English."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.detail = detail or {}


class InvalidInput(DomainError):
    status = 422
    code = "invalid"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not-found"


class Conflict(DomainError):
    """The write clashes with what is stored: a duplicate national ID, a stale state transition."""

    status = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    status = 412
    code = "conflict"
