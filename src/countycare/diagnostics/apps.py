from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "countycare.diagnostics"
    label = "diagnostics"
    verbose_name = "共享诊断中心 Shared diagnostic centres"

    def ready(self) -> None:
        from . import registration  # noqa: F401  scope provider, timeline source, default data after migrate
