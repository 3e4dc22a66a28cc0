"""FHIR R4 endpoints under /fhir/: the CapabilityStatement and the RESTful interactions of every registered
resource type. The views only route: `core.fhir` does the interactions, the apps' `fhir.py` the mapping."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

import countycare.diagnostics.fhir  # noqa: F401  (exam requests, ECG measurements, DiagnosticReport, ImagingStudy, …)
import countycare.records.fhir  # noqa: F401  (registers Encounter, Condition, Observation)
import countycare.referrals.fhir  # noqa: F401  (registers ServiceRequest, Task, CarePlan)
import countycare.registry.fhir  # noqa: F401  (registers Patient, Organization, Practitioner, PractitionerRole)
from countycare.core import fhir

try:
    SOFTWARE_VERSION = version("countycare")
except PackageNotFoundError:  # running from a source tree that was not pip-installed
    SOFTWARE_VERSION = "unknown"


@fhir.fhir_endpoint(public=True)
def metadata(request: HttpRequest, user: Any) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        raise fhir.method_not_allowed(["GET"])
    return fhir.fhir_response(fhir.capability_statement(request, software_version=SOFTWARE_VERSION))


@fhir.fhir_endpoint()
def type_endpoint(request: HttpRequest, user: Any, resource_type: str) -> HttpResponse:
    handler = fhir.resource_handler(resource_type)
    if request.method == "GET":
        return fhir.search_interaction(request, user, handler)
    if request.method == "POST":
        return fhir.create_interaction(request, user, handler)
    raise fhir.method_not_allowed(["GET", "POST"])


@fhir.fhir_endpoint()
def instance_endpoint(request: HttpRequest, user: Any, resource_type: str, resource_id: str) -> HttpResponse:
    handler = fhir.resource_handler(resource_type)
    if request.method == "GET":
        return fhir.read_interaction(request, user, handler, resource_id)
    if request.method == "PUT":
        return fhir.update_interaction(request, user, handler, resource_id)
    raise fhir.method_not_allowed(["GET", "PUT"])


@fhir.fhir_endpoint()
def version_endpoint(
    request: HttpRequest, user: Any, resource_type: str, resource_id: str, version_id: str
) -> HttpResponse:
    handler = fhir.resource_handler(resource_type)
    if request.method != "GET":
        raise fhir.method_not_allowed(["GET"])
    return fhir.read_interaction(request, user, handler, resource_id, version_id)


@fhir.fhir_endpoint()
def history_endpoint(request: HttpRequest, user: Any, resource_type: str, resource_id: str) -> HttpResponse:
    handler = fhir.resource_handler(resource_type)
    if request.method != "GET":
        raise fhir.method_not_allowed(["GET"])
    return fhir.history_interaction(request, user, handler, resource_id)


@fhir.fhir_endpoint(public=True)
def unknown(request: HttpRequest, user: Any) -> HttpResponse:
    raise fhir.FhirError(404, f"未知的 FHIR 地址 (unknown FHIR path {request.path[:100]})", code="not-found")


urlpatterns = [
    path("metadata", metadata, name="fhir-metadata"),
    path("<str:resource_type>", type_endpoint, name="fhir-type"),
    path("<str:resource_type>/<str:resource_id>", instance_endpoint, name="fhir-instance"),
    path("<str:resource_type>/<str:resource_id>/_history", history_endpoint, name="fhir-history"),
    path(
        "<str:resource_type>/<str:resource_id>/_history/<str:version_id>",
        version_endpoint,
        name="fhir-version",
    ),
    re_path(r"", unknown),
]
