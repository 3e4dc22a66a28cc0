from countycare.core.fhir import register_resource  # noqa: F401
