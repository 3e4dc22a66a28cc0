"""Tokens for the JSON and FHIR APIs, and who the bearer of one is."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import suppress
from typing import Annotated, Any

from django.contrib.auth import authenticate, user_logged_in
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from ninja import Router, Schema
from pydantic import StringConstraints

from countycare.api import error_response, error_responses, user_of

from .tokens import issue_token

router = Router(tags=["auth"])

# NUL cannot be stored by PostgreSQL (axes records the user name of every failure)
Credential = Annotated[str, StringConstraints(min_length=1, max_length=150, pattern=r"^[^\x00]*$")]


class TokenIn(Schema):
    username: Credential
    password: Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[^\x00]*$")]


class TokenOut(Schema):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


class Ref(Schema):
    uuid: uuid.UUID
    name: str


class OrganizationRef(Ref):
    org_type: str
    level: str


class PractitionerRef(Ref):
    title: str


class MeOut(Schema):
    username: str
    display_name: str
    role: str
    role_display: str
    community: Ref | None
    organization: OrganizationRef | None
    practitioner: PractitionerRef | None
    resident: Ref | None


@router.post(
    "/auth/token", auth=None, response={200: TokenOut, **error_responses(400, 401, 422, 429)},
    summary="Issue a bearer token",
)
def issue(request: HttpRequest, credentials: TokenIn) -> Any:
    """Exchange a user name and password for a bearer token. Five failures for one user name from one
    address lock the pair out for 15 minutes (429). Tokens expire after `API_TOKEN_TTL_HOURS`."""
    with suppress(MultiPartParserError):
        # The credentials came as JSON. axes reads request.POST on a failure: a form content type with a body
        # that is not a form would raise there; after this first failed parse Django treats the form as empty.
        request.POST  # noqa: B018
    user = authenticate(request=request, username=credentials.username, password=credentials.password)
    if getattr(request, "axes_locked_out", False):
        # Answer in JSON ourselves; left set, the axes middleware would swap in its HTML lock-out page.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        return error_response(
            request, 429,
            "登录失败次数过多，已暂时锁定，请15分钟后再试 (too many failed logins: locked for 15 minutes)",
            "locked-out",
        )
    if user is None:
        return error_response(
            request, 401, "用户名或密码错误，或账号已停用 (wrong user name or password, or account disabled)",
            "invalid-credentials",
        )
    # A token is a login: axes resets the failure count and logs the access, Django records last_login.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    raw, token = issue_token(user)
    return {"access_token": raw, "token_type": "bearer", "expires_at": token.expires_at}


def _ref(obj: Any) -> dict[str, Any] | None:
    return {"uuid": obj.uuid, "name": obj.name} if obj is not None else None


@router.get("/me", response={200: MeOut, **error_responses(401)}, summary="The bearer of the token")
def me(request: HttpRequest) -> Any:
    user = user_of(request)
    org, practitioner = user.organization, user.practitioner
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_display": str(user.get_role_display()) if user.role else "",
        "community": _ref(user.community),
        "organization": {**_ref(org), "org_type": org.org_type, "level": org.level} if org else None,
        "practitioner": {**_ref(practitioner), "title": practitioner.title} if practitioner else None,
        "resident": _ref(user.resident),
    }
