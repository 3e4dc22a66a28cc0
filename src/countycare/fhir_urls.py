"""FHIR R4 endpoints under /fhir/."""

urlpatterns: list = []
