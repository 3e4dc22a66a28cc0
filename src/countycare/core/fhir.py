"""FHIR R4 plumbing shared by every app that publishes resources under /fhir/.

Apps describe each resource type with a `ResourceHandler` (how to read, search, create and update it, and
how it maps to and from FHIR) and register it with `register_resource`, the way scope providers are
registered: core never imports a domain app. This module does everything that is the same for every
resource type:

- authentication (`Authorization: Bearer <token>` or the Django session, CSRF-checked for writes);
- parsing: JSON body → `fhir.resources` R4B model (pydantic errors → 400 OperationOutcome), required
  bindings that `fhir.resources` does not check (gender, Identifier.use, ContactPoint.system …);
- the interactions read, vread (current version only, unless the handler keeps versions), history-instance
  (handlers that keep versions), search-type, create (201, Location, ETag, Idempotency-Key) and update
  (If-Match → 412 when stale);
- search parameters: `_count`/`page` paging, repeated parameters are AND, comma-separated values are OR,
  date prefixes (eq, ne, lt, le, gt, ge) on partial dates, tokens `system|code`, references;
- errors: every DomainError becomes an OperationOutcome with its status; nothing a client sends gives a 500.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import reduce, wraps
from operator import and_, or_
from typing import Any, ClassVar

import pydantic
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from . import idempotency
from .errors import Conflict, DomainError

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
JSON_TYPES = frozenset({FHIR_JSON, "application/json"})
JSON_FORMATS = frozenset({"json", FHIR_JSON, "application/json"})
DEFAULT_COUNT = 20
MAX_COUNT = 100
MAX_PAGE = 100_000
MAX_NESTING = 64  # the deepest real resources nest about a dozen levels
RESULT_PARAMETERS = frozenset({"_count", "page", "_format"})
CONFIRM_NOT_DUPLICATE_HEADER = "X-Confirm-Not-Duplicate"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Required bindings of the R4 datatypes our resources use; `fhir.resources` accepts any string for a code.
# Keyed by (the element holding the code, the code's element name).
REQUIRED_BINDINGS: dict[tuple[str, str], frozenset[str]] = {
    ("", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("contact", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("identifier", "use"): frozenset({"usual", "official", "temp", "secondary", "old"}),
    ("name", "use"): frozenset({"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}),
    ("telecom", "system"): frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"}),
    ("telecom", "use"): frozenset({"home", "work", "temp", "old", "mobile"}),
    ("address", "use"): frozenset({"home", "work", "temp", "old", "billing"}),
    ("address", "type"): frozenset({"postal", "physical", "both"}),
    ("link", "type"): frozenset({"replaced-by", "replaces", "refer", "seealso"}),
    ("text", "status"): frozenset({"generated", "extensions", "additional", "empty"}),
}


# ---------------------------------------------------------------------------------------------- outcomes

class FhirError(Exception):
    """An error of the FHIR layer itself (bad request, unknown type, wrong method): an OperationOutcome."""

    def __init__(self, status: int, diagnostics: str, *, code: str = "invalid", expression: str | None = None,
                 issues: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.issues = issues or [issue(diagnostics, code=code, expression=expression)]
        self.headers = headers or {}


def require_choice(name: str, value: str, allowed: Iterable[str], *, got: str | None = None) -> None:
    """A search parameter's token must be one of `allowed`: else a 400 naming them (and what came, cut to 40)."""
    allowed = set(allowed)
    if value not in allowed:
        shown = value if got is None else got
        raise FhirError(400, f"{name} 须为 {', '.join(sorted(allowed))} (got {shown[:40]})")


def issue(diagnostics: str, *, code: str = "invalid", severity: str = "error",
          expression: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        entry["expression"] = [expression]
    return entry


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def fhir_response(body: Mapping[str, Any], *, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def outcome_response(status: int, issues: list[dict[str, Any]], headers: Mapping[str, str] | None = None
                     ) -> HttpResponse:
    return fhir_response(operation_outcome(issues), status=status, headers=headers)


def python_path(loc: tuple[Any, ...], resource_type: str) -> str:
    """A pydantic error location as a FHIRPath expression: ('name', 0, 'given') -> Patient.name[0].given."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += "." + ("resourceType" if part == "resource_type" else str(part))
    return path


# ---------------------------------------------------------------------------------------------- handlers

@dataclass(frozen=True)
class SearchParam:
    type: str  # FHIR search parameter type: string, token, date, reference
    documentation: str


class ResourceHandler:
    """How one resource type is read, searched, created and updated. Subclasses live in the domain apps."""

    resource_type: ClassVar[str]
    model: ClassVar[type[pydantic.BaseModel]]  # the fhir.resources R4B class that validates incoming bodies
    documentation: ClassVar[str] = ""
    search_params: ClassVar[dict[str, SearchParam]] = {}
    # where a DomainError's `field` lives in the resource (for OperationOutcome.issue.expression)
    field_expressions: ClassVar[dict[str, str]] = {}
    # what the CapabilityStatement promises; a type that refuses create or update (405) leaves them out
    interactions: ClassVar[tuple[str, ...]] = ("read", "vread", "search-type", "create", "update")
    # True when every version stays readable (vread of an old version, GET [type]/[id]/_history)
    keeps_history: ClassVar[bool] = False

    def read(self, user: Any, resource_id: str) -> Any:
        """The object behind a read in the user's scope (audited if it is patient data); else NotFound."""
        raise NotImplementedError

    def read_version(self, user: Any, resource_id: str, version_id: str) -> Any:
        """One version of the resource (vread). Only the current version unless the handler keeps history."""
        obj = self.read(user, resource_id)
        if version_id != self.version(obj):
            raise FhirError(404, f"只保留当前版本 (only the current version {self.version(obj)} is kept)",
                            code="not-found")
        return obj

    def history(self, user: Any, resource_id: str) -> list[Any]:
        """Every version of the resource, newest first (handlers with `keeps_history`)."""
        raise FhirError(404, f"{self.resource_type} 不保留历史版本 (no version history is kept for "
                             f"{self.resource_type})", code="not-supported")

    def read_for_update(self, user: Any, resource_id: str) -> Any:
        return self.read(user, resource_id)

    def resource_id(self, obj: Any) -> str:
        return str(obj.uuid)

    def version(self, obj: Any) -> str:
        raise NotImplementedError

    def last_updated(self, obj: Any) -> dt.datetime | None:
        return None

    def to_fhir(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def condition(self, user: Any, name: str, value: str) -> Q:
        """The Q over the handler's model for one value of one search parameter."""
        raise NotImplementedError

    def search(self, user: Any, condition: Q, *, offset: int, count: int,
               query: str) -> tuple[list[Any], int]:
        """The page of matches in the user's scope and the total number of matches."""
        raise NotImplementedError

    def check_can_write(self, user: Any) -> None:
        """Raise PermissionDenied when the user's role may not create or update this type at all."""
        raise NotImplementedError

    def create(self, user: Any, resource: Any, *, headers: Mapping[str, str],
               within: Callable[[Any], None]) -> Any:
        """Write the new object and call `within(obj)` inside the same transaction (the idempotent answer is
        stored there). The handler owns that transaction: a refusal may leave an audit record that must
        survive it, so the caller opens none around this call."""
        raise NotImplementedError

    def update(self, user: Any, obj: Any, resource: Any, *, expected_version: str | None,
               headers: Mapping[str, str]) -> Any:
        raise NotImplementedError

    def outcome_issues(self, error: DomainError) -> list[dict[str, Any]]:
        """The OperationOutcome issues of a refused read or write: the message where it applies, and the
        existing resource (or the suspected duplicates) it clashes with, named as Type/id."""
        code = error.code
        detail = error.detail or {}
        existing = detail.get("existing")
        if isinstance(error, Conflict) and existing:
            code = "duplicate"
        first = issue(error.message, code=code, expression=self.field_expressions.get(error.field or ""))
        issues = [first]
        if existing:
            first["diagnostics"] += f" [existing: {self.resource_type}/{existing}]"
            issues.append(issue(f"{self.resource_type}/{existing}", code=code, severity="information",
                                expression=self.field_expressions.get(error.field or "")))
        for candidate in detail.get("candidates", []):
            issues.append(issue(f"{self.resource_type}/{candidate}", code="duplicate",
                                severity="information"))
        return issues


_resources: dict[str, ResourceHandler] = {}


def register_resource(handler: ResourceHandler) -> ResourceHandler:
    _resources[handler.resource_type] = handler
    return handler


def registered_resources() -> list[ResourceHandler]:
    return list(_resources.values())


def resource_handler(resource_type: str) -> ResourceHandler:
    handler = _resources.get(resource_type)
    if handler is None:
        raise FhirError(404, f"不支持的资源类型 {resource_type[:40]} (resource type not supported)",
                        code="not-supported")
    return handler


# ---------------------------------------------------------------------------------------------- requests

def authenticate(request: HttpRequest) -> Any:
    """The user behind a bearer token, else the logged-in session user; 401 otherwise.

    A request that carries an Authorization header is judged by it alone. Writes made with a session
    cookie must pass Django's CSRF check (bearer tokens are not sent by browsers on their own)."""
    from countycare.accounts.tokens import user_for_authorization_header

    challenge = {"WWW-Authenticate": 'Bearer realm="CountyCare FHIR"'}
    header = request.headers.get("Authorization")
    if header:
        user = user_for_authorization_header(header)
        if user is None:
            raise FhirError(401, "令牌无效或已过期 (invalid or expired bearer token)", code="login",
                            headers=challenge)
        return user
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        raise FhirError(401, "请先登录或提供令牌 (authentication required: Authorization: Bearer <token>)",
                        code="login", headers=challenge)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        rejected = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})
        if rejected is not None:
            raise FhirError(403, "CSRF 校验失败 (CSRF check failed for a session-authenticated write)",
                            code="security")
    return user


View = Callable[..., HttpResponse]


def fhir_endpoint(*, public: bool = False) -> Callable[[View], View]:
    """Wrap a FHIR view: authenticate (unless public) and turn every refusal into an OperationOutcome."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                check_format(request)
                user = None if public else authenticate(request)
                return view(request, user, *args, **kwargs)
            except FhirError as error:
                return outcome_response(error.status, error.issues, error.headers)
            except DomainError as error:
                handler = _resources.get(kwargs.get("resource_type", ""))
                issues = handler.outcome_issues(error) if handler else [issue(error.message, code=error.code)]
                return outcome_response(error.status, issues)

        return wrapped

    return decorate


def check_format(request: HttpRequest) -> None:
    wanted = request.GET.get("_format")
    if wanted is not None and wanted not in JSON_FORMATS:
        raise FhirError(406, f"只支持 JSON 格式 (only JSON is supported, not {wanted[:40]})",
                        code="not-supported")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def request_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise FhirError(413, "请求体过大 (the body is too large)", code="too-long") from None


def parse_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type not in JSON_TYPES:
        raise FhirError(415, f"请求体须为 {FHIR_JSON} (the body must be {FHIR_JSON}, "
                             f"got {request.content_type[:60] or 'nothing'})", code="not-supported")
    try:
        data = json.loads(request_body(request).decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise FhirError(400, f"JSON 格式错误 (malformed JSON: {str(exc)[:200]})", code="structure") from None
    if not isinstance(data, dict):
        raise FhirError(400, "请求体须为一个 FHIR 资源对象 (the body must be a JSON object)",
                        code="structure")
    if _nesting_depth(data) > MAX_NESTING:
        raise FhirError(400, f"嵌套层级过深 (the body nests deeper than {MAX_NESTING} levels)",
                        code="structure")
    return data


def _nesting_depth(value: Any) -> int:
    """How deep objects and arrays nest (iteratively: a hostile body must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _control_character_path(value: Any, path: str = "") -> str | None:
    """Where a string holds a control character (FHIR strings allow only tab, CR and LF below U+0020)."""
    if isinstance(value, str):
        return path if CONTROL_CHARACTERS.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and CONTROL_CHARACTERS.search(key):
            return path
        found = _control_character_path(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found is not None:
            return found
    return None


def _binding_issues(value: Any, resource_type: str, path: str = "", holder: str = "") -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            issues += _binding_issues(item, resource_type, f"{path}[{index}]", holder)
        return issues
    if not isinstance(value, dict):
        return issues
    for key, item in value.items():
        item_path = f"{path}.{key}" if path else key
        allowed = REQUIRED_BINDINGS.get((holder, key))
        if allowed is not None and isinstance(item, str) and item not in allowed:
            issues.append(issue(
                f"{resource_type}.{item_path}: 代码 {item[:40]!r} 不在必需值集中 "
                f"(code not in the required value set: {', '.join(sorted(allowed))})",
                code="code-invalid", expression=f"{resource_type}.{item_path}",
            ))
        elif key == "modifierExtension":
            issues.append(issue(f"{resource_type}.{item_path}: 不支持修饰扩展 (modifier extensions are "
                                "not supported)", code="not-supported",
                                expression=f"{resource_type}.{item_path}"))
        elif isinstance(item, dict | list):
            issues += _binding_issues(item, resource_type, item_path, key)
    return issues


def parse_resource(request: HttpRequest, handler: ResourceHandler) -> Any:
    """The request body validated as the handler's resource type; 400 with every problem found."""
    data = parse_body(request)
    resource_type = data.get("resourceType")
    if resource_type != handler.resource_type:
        raise FhirError(400, f"resourceType 应为 {handler.resource_type}，实为 {str(resource_type)[:40]} "
                             f"(expected resourceType {handler.resource_type})",
                        code="invalid", expression=f"{handler.resource_type}.resourceType")
    where = _control_character_path(data, handler.resource_type)
    if where is not None:
        raise FhirError(400, f"字符串含控制字符 (a string contains a control character at {where})",
                        code="invalid", expression=where)
    try:
        resource = handler.model.model_validate(data)
    except pydantic.ValidationError as exc:
        issues = []
        for error in exc.errors(include_url=False)[:50]:
            where = python_path(tuple(error["loc"]), handler.resource_type)
            issues.append(issue(f"{where}: {error['msg']}", code="structure", expression=where))
        raise FhirError(400, "invalid resource", issues=issues) from None
    except (ValueError, TypeError) as exc:  # a validator of fhir.resources that raised outside pydantic
        raise FhirError(400, f"资源无效 (invalid resource: {str(exc)[:200]})", code="structure") from None
    problems = _binding_issues(data, handler.resource_type)
    if problems:
        status = 422 if all(p["code"] == "not-supported" for p in problems) else 400
        raise FhirError(status, "invalid codes", issues=problems)
    return resource


def parse_if_match(header: str | None) -> str | None:
    """`W/"3"` (or `"3"`) -> "3"; None when absent."""
    if header is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"([A-Za-z0-9\-.]{1,64})"\s*', header)
    if match is None:
        raise FhirError(400, f'If-Match 格式应为 W/"<版本>" (If-Match must look like W/"<versionId>", got '
                             f"{header[:40]})", code="invalid")
    return match.group(1)


def etag(version: str) -> str:
    return f'W/"{version}"'


def instant(moment: dt.datetime) -> str:
    return timezone.localtime(moment).isoformat(timespec="milliseconds")


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/").rstrip("/")


# ---------------------------------------------------------------------------------------------- search values

DATE_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")
DATE_VALUE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def date_range(value: str) -> tuple[dt.date, dt.date]:
    """A FHIR date search value (YYYY, YYYY-MM or YYYY-MM-DD) as the first and last day it covers."""
    match = DATE_VALUE.match(value)
    if match is None:
        raise FhirError(400, f"日期格式应为 YYYY[-MM[-DD]] (date must be YYYY, YYYY-MM or YYYY-MM-DD, got "
                             f"{value[:40]})", code="invalid")
    year, month, day = match.groups()
    try:
        if day:
            first = last = dt.date(int(year), int(month), int(day))
        elif month:
            first = dt.date(int(year), int(month), 1)
            following = dt.date(int(year) + int(month) // 12, int(month) % 12 + 1, 1)
            last = following - dt.timedelta(days=1)
        else:
            first, last = dt.date(int(year), 1, 1), dt.date(int(year), 12, 31)
    except ValueError:
        raise FhirError(400, f"不是有效日期 (not a valid date: {value[:40]})", code="invalid") from None
    return first, last


def date_condition(field: str, value: str) -> Q:
    """`birthdate=ge1950`, `birthdate=1960-05`, … over a DateField."""
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    first, last = date_range(value[2:] if value[:2] in DATE_PREFIXES else value)
    within = Q(**{f"{field}__gte": first, f"{field}__lte": last})
    return {
        "eq": within,
        "ne": ~within,
        "lt": Q(**{f"{field}__lt": first}),
        "le": Q(**{f"{field}__lte": last}),
        "gt": Q(**{f"{field}__gt": last}),
        "ge": Q(**{f"{field}__gte": first}),
    }[prefix]


def split_token(value: str) -> tuple[str | None, str]:
    """`system|code` -> (system, code); `|code` -> ("", code) (no system); `code` -> (None, code)."""
    if "|" in value:
        system, _, code = value.partition("|")
        return system, code
    return None, value


def reference_id(value: str, resource_type: str) -> str:
    """`Organization/<id>`, an absolute URL ending so, or a bare id -> the id."""
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2:
        if parts[-2] != resource_type:
            raise FhirError(400, f"引用须指向 {resource_type} (reference must point to a {resource_type})",
                            code="invalid")
        return parts[-1]
    return parts[-1]


def split_or_values(value: str) -> list[str]:
    """Comma-separated values are alternatives; `\\,` is a literal comma."""
    return [part.replace("\\,", ",") for part in re.split(r"(?<!\\),", value)]


@dataclass(frozen=True)
class Page:
    count: int
    number: int

    @property
    def offset(self) -> int:
        return self.count * (self.number - 1)


def _bounded_int(request: HttpRequest, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not minimum <= int(raw) <= maximum:
        raise FhirError(400, f"{name} 须为 {minimum} 至 {maximum} 的整数 "
                             f"({name} must be an integer from {minimum} to {maximum})", code="invalid")
    return int(raw)


def parse_search(request: HttpRequest, handler: ResourceHandler, user: Any) -> tuple[Q, Page]:
    """The AND of every search parameter (each the OR of its comma-separated values), and the page."""
    page = Page(count=min(_bounded_int(request, "_count", DEFAULT_COUNT, 0, 10**9), MAX_COUNT),
                number=_bounded_int(request, "page", 1, 1, MAX_PAGE))
    conditions = []
    if CONTROL_CHARACTERS.search(request.META.get("QUERY_STRING", "")) or any(
        CONTROL_CHARACTERS.search(key + "".join(request.GET.getlist(key))) for key in request.GET
    ):
        raise FhirError(400, "搜索参数含控制字符 (a search parameter contains a control character)")
    for key in request.GET:
        if key in RESULT_PARAMETERS:
            continue
        name, _, modifier = key.partition(":")
        if name not in handler.search_params:
            known = ", ".join(sorted(handler.search_params))
            raise FhirError(400, f"不支持的搜索参数 {key[:40]} (unknown search parameter; "
                                 f"{handler.resource_type} supports {known}, _count, page)",
                            code="not-supported")
        if modifier:
            raise FhirError(400, f"不支持的修饰符 {key[:40]} (search modifiers are not supported)",
                            code="not-supported")
        for value in request.GET.getlist(key):
            alternatives = [handler.condition(user, name, v.strip()) for v in split_or_values(value)]
            conditions.append(reduce(or_, alternatives))
    return (reduce(and_, conditions) if conditions else Q()), page


# ---------------------------------------------------------------------------------------------- interactions

def resource_headers(request: HttpRequest, handler: ResourceHandler, obj: Any, *, location: bool = False
                     ) -> dict[str, str]:
    version = handler.version(obj)
    headers = {"ETag": etag(version)}
    updated = handler.last_updated(obj)
    if updated is not None:
        headers["Last-Modified"] = http_date(updated.timestamp())
    if location:
        headers["Location"] = (f"{base_url(request)}/{handler.resource_type}/{handler.resource_id(obj)}"
                               f"/_history/{version}")
    return headers


def read_interaction(request: HttpRequest, user: Any, handler: ResourceHandler, resource_id: str,
                     version_id: str | None = None) -> HttpResponse:
    if version_id is None:
        obj = handler.read(user, resource_id)
    else:
        obj = handler.read_version(user, resource_id, version_id)
    return fhir_response(handler.to_fhir(obj), headers=resource_headers(request, handler, obj))


def history_interaction(request: HttpRequest, user: Any, handler: ResourceHandler, resource_id: str
                        ) -> HttpResponse:
    """GET [type]/[id]/_history: a Bundle of type history with every version, newest first."""
    if any(key not in RESULT_PARAMETERS for key in request.GET):
        raise FhirError(400, "历史查询不支持参数 (_history takes no parameters here)", code="not-supported")
    versions = handler.history(user, resource_id)
    base = base_url(request)
    entries = []
    for obj in versions:
        version = handler.version(obj)
        updated = handler.last_updated(obj)
        entries.append({
            "fullUrl": f"{base}/{handler.resource_type}/{handler.resource_id(obj)}",
            "resource": handler.to_fhir(obj),
            "request": {"method": "POST" if version == "1" else "PUT",
                        "url": f"{handler.resource_type}/{handler.resource_id(obj)}"},
            "response": {"status": "201 Created" if version == "1" else "200 OK", "etag": etag(version),
                         **({"lastModified": instant(updated)} if updated is not None else {})},
        })
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(entries),
        "link": [{"relation": "self", "url": request.build_absolute_uri()}],
        "entry": entries,
    }
    if not entries:
        del bundle["entry"]
    return fhir_response(bundle)


def search_interaction(request: HttpRequest, user: Any, handler: ResourceHandler) -> HttpResponse:
    condition, page = parse_search(request, handler, user)
    rows, total = handler.search(user, condition, offset=page.offset, count=page.count,
                                 query=request.GET.urlencode())
    base = base_url(request)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": paging_links(request, page, total),
        "entry": [
            {
                "fullUrl": f"{base}/{handler.resource_type}/{handler.resource_id(obj)}",
                "resource": handler.to_fhir(obj),
                "search": {"mode": "match"},
            }
            for obj in rows
        ],
    }
    if not bundle["entry"]:
        del bundle["entry"]
    return fhir_response(bundle)


def paging_links(request: HttpRequest, page: Page, total: int) -> list[dict[str, str]]:
    def url(number: int) -> str:
        params = request.GET.copy()
        params["page"] = str(number)
        params["_count"] = str(page.count)
        return request.build_absolute_uri(request.path) + "?" + params.urlencode()

    last = max(1, -(-total // page.count)) if page.count else 1
    links = [{"relation": "self", "url": url(page.number)}, {"relation": "first", "url": url(1)}]
    if page.number > 1:
        links.append({"relation": "previous", "url": url(min(page.number - 1, last))})
    if page.number < last:
        links.append({"relation": "next", "url": url(page.number + 1)})
    links.append({"relation": "last", "url": url(last)})
    return links


def create_interaction(request: HttpRequest, user: Any, handler: ResourceHandler) -> HttpResponse:
    """POST [type]: 201 with the stored resource, Location and ETag. A repeated Idempotency-Key gets the first
    answer again; the write and the stored answer land in one transaction."""
    handler.check_can_write(user)
    key = request.headers.get("Idempotency-Key")
    if key is not None and CONTROL_CHARACTERS.search(key):
        raise FhirError(400, "Idempotency-Key 含控制字符 (Idempotency-Key contains a control character)")
    body = request_body(request)
    replay = idempotency.lookup(user.pk, key, "POST", request.path, body)
    if replay is not None:
        return fhir_response(json.loads(replay.body), status=replay.status, headers=replay.headers)
    resource = parse_resource(request, handler)
    answer: list[HttpResponse] = []

    def respond(obj: Any) -> None:  # inside the write's transaction, so the stored answer lands with it
        headers = resource_headers(request, handler, obj, location=True)
        response = fhir_response(handler.to_fhir(obj), status=201, headers=headers)
        idempotency.store(user.pk, key, "POST", request.path, body,
                          idempotency.StoredResponse(201, headers, response.content.decode()))
        answer.append(response)

    handler.create(user, resource, headers=request.headers, within=respond)
    return answer[0]


def update_interaction(request: HttpRequest, user: Any, handler: ResourceHandler, resource_id: str
                       ) -> HttpResponse:
    """PUT [type]/[id]: replace the resource. If-Match (`W/"<versionId>"`) makes it conditional on the
    version the client saw: a stale one is a 412 and nothing changes. Update-as-create is not supported."""
    handler.check_can_write(user)
    expected = parse_if_match(request.headers.get("If-Match"))
    resource = parse_resource(request, handler)
    if resource.id != resource_id:
        raise FhirError(400, f"资源 id 须与地址中的 id 一致 (the body's id must equal {resource_id[:64]})",
                        code="invalid", expression=f"{handler.resource_type}.id")
    with transaction.atomic():
        current = handler.read_for_update(user, resource_id)
        obj = handler.update(user, current, resource, expected_version=expected, headers=request.headers)
        return fhir_response(handler.to_fhir(obj), headers=resource_headers(request, handler, obj))


def method_not_allowed(allowed: list[str]) -> FhirError:
    return FhirError(405, f"不支持的操作 (method not allowed; use {', '.join(allowed)})",
                     code="not-supported", headers={"Allow": ", ".join(allowed)})


# ---------------------------------------------------------------------------------------------- capability

INTERACTION_NOTES = {
    "vread": "Only the current version is kept.",
    "update": 'Conditional on If-Match: W/"<versionId>" when sent.',
}
HISTORY_NOTES = {
    "vread": "Every version is kept: GET [type]/[id]/_history/[vid].",
    "history-instance": "GET [type]/[id]/_history: every version, newest first.",
}


def capability_statement(request: HttpRequest, *, software_version: str) -> dict[str, Any]:
    base = base_url(request)
    resources = []
    for handler in registered_resources():
        search_params = [{"name": "_id", "type": "token", "documentation": "The logical id"}]
        search_params += [
            {"name": name, "type": param.type, "documentation": param.documentation}
            for name, param in handler.search_params.items() if name != "_id"
        ]
        notes = INTERACTION_NOTES | (HISTORY_NOTES if handler.keeps_history else {})
        resources.append({
            "type": handler.resource_type,
            "documentation": handler.documentation,
            "interaction": [
                {"code": code, **({"documentation": notes[code]} if code in notes else {})}
                for code in handler.interactions
            ],
            "versioning": "versioned-update" if "update" in handler.interactions else "versioned",
            "readHistory": handler.keeps_history,
            "updateCreate": False,
            "conditionalCreate": False,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": search_params,
        })
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.localdate().isoformat(),
        "publisher": "CountyCare",
        "kind": "instance",
        "software": {"name": "CountyCare", "version": software_version},
        "implementation": {"description": "CountyCare county medical community platform", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "documentation": "Paging with _count (default 20, at most 100) and page; repeated parameters are "
                             "AND, comma-separated values OR. Errors are OperationOutcome resources.",
            "security": {
                "cors": False,
                "description": "Authorization: Bearer <token> from POST /api/auth/token, or the web session. "
                               "Reads and searches are limited to the user's scope and audited.",
            },
            "resource": resources,
        }],
    }
