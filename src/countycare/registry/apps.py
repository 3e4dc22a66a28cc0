from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "countycare.registry"
    label = "registry"
    verbose_name = "注册管理 Registry"

    def ready(self) -> None:
        from . import scope  # noqa: F401  registers the base scope provider
