from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "countycare.assessment"
    label = "assessment"
    verbose_name = "医共体考核 Community assessment"

    def ready(self) -> None:
        from . import catalogue, fhir  # noqa: F401  registers the indicators and the Measure resources
