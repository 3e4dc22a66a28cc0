"""The JSON API (django-ninja): /api/, OpenAPI at /api/openapi.json, Swagger UI at /api/docs.

Every operation but `POST /api/auth/token` needs `Authorization: Bearer <token>`. Errors are always JSON:
`{"detail": message, "code": ..., "field": ...}` plus whatever the domain error adds (`part` of a wrong
national ID, the `existing` resident of a duplicate, duplicate `candidates`).
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Header, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from countycare.accounts.tokens import user_for_token
from countycare.core import idempotency
from countycare.core.errors import DomainError
from countycare.registry.schemas import NO_NUL

JSON = "application/json"


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` with a token from POST /api/auth/token; ninja answers 401 otherwise."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return user_for_token(token.strip())


def user_of(request: HttpRequest) -> Any:
    """The user the bearer token belongs to (set by BearerToken on every authenticated operation)."""
    return request.auth  # type: ignore[attr-defined]


class ErrorOut(Schema):
    detail: str
    code: str
    field: str | None = None


class ValidationErrorItem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    errors: list[ValidationErrorItem] = []


def idempotency_key_header(
    description: str = "Send the same key when retrying: the retry gets the first answer",
) -> Any:
    """The type of a create's optional `Idempotency-Key` header parameter."""
    return Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=idempotency.MAX_KEY_LENGTH, pattern=NO_NUL,
               description=description),
    ]


IdempotencyKey = idempotency_key_header()


class CreatedOnce:
    """The 201 answer of a create that honours an Idempotency-Key (a retry from a flaky village connection).

        created = CreatedOnce(request, idempotency_key)
        if (replay := created.replay()) is not None:
            return replay
        services.create_x(..., within=lambda x: created.keep(XOut.from_orm(x).model_dump_json(), x.uuid))
        return created.response()

    `keep` runs inside the service's transaction (not one of ours around it: a refusal's audit must survive),
    so the stored answer lands with the write or not at all."""

    def __init__(self, request: HttpRequest, key: str | None) -> None:
        self.request = request
        self.key = key
        self.user = user_of(request)
        self.method = request.method or "POST"
        self.body = ""
        self.headers: dict[str, str] = {}

    def replay(self) -> HttpResponse | None:
        """The first answer again when the key was seen before (422 if it came with another body)."""
        stored = idempotency.lookup(self.user.pk, self.key, self.method, self.request.path, self.request.body)
        if stored is None:
            return None
        return HttpResponse(stored.body, status=stored.status, headers=stored.headers, content_type=JSON)

    def keep(self, body: str, created_uuid: Any) -> None:
        self.body = body
        self.headers = {"Location": f"{self.request.path}/{created_uuid}"}
        idempotency.store(self.user.pk, self.key, self.method, self.request.path, self.request.body,
                          idempotency.StoredResponse(201, self.headers, body))

    def response(self) -> HttpResponse:
        return HttpResponse(self.body, status=201, headers=self.headers, content_type=JSON)


def error_responses(*statuses: int) -> dict[int, type[Schema]]:
    """The error part of an operation's `response=`, so OpenAPI documents every status it can answer."""
    return {status: (ValidationErrorOut if status == 422 else ErrorOut) for status in statuses}


api = NinjaAPI(
    title="CountyCare API",
    version="1",
    description="JSON API of the CountyCare county medical community platform. See docs/api.md.",
    urls_namespace="api",
    auth=BearerToken(),
)


def error_response(request: HttpRequest, status: int, detail: str, code: str, field: str | None = None,
                   extra: dict[str, Any] | None = None) -> HttpResponse:
    body = {**(extra or {}), "detail": detail, "code": code, "field": field}
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(request, exc.status, exc.message, exc.code, exc.field, exc.detail)


def _location(loc: Any) -> list[str | int]:
    # ninja prefixes the parameter source ("body", "query", "path", "header"); keep it, it tells where to look
    return [part if isinstance(part, int) else str(part) for part in loc]


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"loc": _location(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors
    ]
    readable = "; ".join(f"{_dotted(e['loc'])}: {e['msg']}" for e in errors)
    field = _dotted(errors[0]["loc"]) if errors else None
    return error_response(request, 422, f"请求内容无效 (invalid request): {readable}", "invalid", field,
                          {"errors": errors})


def _dotted(loc: list[str | int]) -> str:
    """`["body", "payload", "identifiers", 0, "value"]` -> "identifiers.0.value": where the client put it."""
    parts = loc[2:] if loc[:1] == ["body"] and len(loc) > 2 else loc[1:]
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "request")


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request, 401,
        "未登录或令牌无效/已过期 (missing, invalid or expired bearer token: POST /api/auth/token for one)",
        "unauthorized",
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # ninja's "Cannot parse request body"
        return error_response(request, 400, "请求体不是有效的 JSON (the request body is not valid JSON)", "bad-request")
    codes = {401: "unauthorized", 403: "forbidden", 429: "throttled"}
    return error_response(request, exc.status_code, str(exc), codes.get(exc.status_code, "error"))


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "未找到 (not found)", "not-found")


api.add_router("", "countycare.accounts.api.router")
api.add_router("", "countycare.registry.api.router")
api.add_router("", "countycare.records.api.router")
api.add_router("", "countycare.referrals.api.router")
api.add_router("", "countycare.diagnostics.api.router")
api.add_router("", "countycare.diagnostics.lab_api.router")
