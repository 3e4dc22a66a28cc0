"""FHIR mapping (registered with core.fhir on import)."""
