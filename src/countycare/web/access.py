"""Who may open which page, and how domain errors become error pages.

Scope over residents is decided in `core.scope`; these sets only decide which *pages* a role is offered
(the navigation) and which it is refused with a 403 before any query runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from countycare.core.codes import (
    AGGREGATE_ONLY_ROLES,
    CLINICAL_ROLES,
    COMMUNITY_WIDE_ROLES,
    REGISTERING_ROLES,
    Role,
)
from countycare.core.errors import DomainError, NotFound
from countycare.core.errors import PermissionDenied as DomainPermissionDenied

# Roles that open individual resident records (search, profile).
PATIENT_ROLES = frozenset(CLINICAL_ROLES | COMMUNITY_WIDE_ROLES)
# Roles that manage the community: the organisation tree and the practitioners.
MANAGER_ROLES = frozenset(COMMUNITY_WIDE_ROLES | AGGREGATE_ONLY_ROLES)
# Who may merge records and read the audit trail.
ADMIN_ROLES = frozenset({Role.COMMUNITY_ADMIN})
REGISTER_ROLES = frozenset(REGISTERING_ROLES)
# Everyone but residents: the community's aggregate indicators.
STAFF_ROLES = frozenset(r for r in Role.values if r != Role.RESIDENT)

View = Callable[..., HttpResponse]


def roles_required(roles: Iterable[str]) -> Callable[[View], View]:
    """Log in first; then a user whose role is not in `roles` gets the 403 page."""
    allowed = frozenset(roles)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.role not in allowed:  # type: ignore[union-attr]
                raise DjangoPermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


def raise_as_http(exc: DomainError) -> None:
    """A NotFound or PermissionDenied from a query becomes Django's 404 / 403 page with its message."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message) from exc
    if isinstance(exc, DomainPermissionDenied):
        raise DjangoPermissionDenied(exc.message) from exc
    raise exc


def domain_errors(view: View) -> View:
    """A DomainError that escapes a view shows as a 4xx page with its message, never as a 500:
    NotFound / PermissionDenied through Django's 404 / 403 pages, the rest on the generic error page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (NotFound, DomainPermissionDenied) as exc:
            raise_as_http(exc)
            raise  # pragma: no cover - raise_as_http always raises
        except DomainError as exc:
            return TemplateResponse(
                request, "web/error.html", {"message": exc.message, "status": exc.status}, status=exc.status
            )

    return wrapper
