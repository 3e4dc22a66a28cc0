"""What a request that failed unexpectedly answers: Django's `handler500` (set in `countycare.urls`).

Django calls it for any exception nothing else handled, from a view or a middleware, with the exception still
in `sys.exc_info()`. Each surface answers in its own language: the JSON API with its `{detail, code}` error
body, the FHIR API with an OperationOutcome, pages with the bilingual error page. When the database itself
failed — it is restarting, unreachable, or the statement was cancelled — the answer is 503 with
`Retry-After`: nothing is wrong with the request and the same request shortly after will work (a create sent
again with its Idempotency-Key still makes one record). Every other failure stays a 500, logged by Django.

No request context is used: context processors read the database, which may be the thing that failed.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from countycare.core import fhir

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = ("数据库暂时不可用，请稍后重试 "
               "(the database is unavailable for a moment; try again shortly)")
FAILED = ("系统出错，请求未能完成，已记录；请稍后重试，反复出现请联系信息科 "
          "(the server failed and the request was not completed; it was logged. Try again later; "
          "if it keeps happening, call the IT office)")


def server_error(request: HttpRequest) -> HttpResponse:
    # OperationalError: connection lost or refused, server shutting down, statement cancelled, deadlock, SQLite
    # busy — all "try again"; InterfaceError: the connection was already closed
    unavailable = isinstance(sys.exc_info()[1], (OperationalError, InterfaceError))
    status = 503 if unavailable else 500
    message = UNAVAILABLE if unavailable else FAILED
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": message, "code": "database_unavailable" if unavailable else "server_error"}, status=status)
    elif request.path.startswith("/fhir/"):
        response = fhir.outcome_response(
            status, [fhir.issue(message, code="transient" if unavailable else "exception", severity="fatal")])
    else:
        page = loader.get_template("500.html").render({"status": status, "unavailable": unavailable})
        response = HttpResponse(page, status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
