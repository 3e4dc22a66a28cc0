from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def load_shipped_icd10(sender: AppConfig, *, using: str, apps: Any = None, **kwargs: Any) -> None:
    """After migrate (and a test's flush): add the shipped ICD-10 codes that are missing, so a fresh database
    has codes without a separate step. Uses the migrated state of the model, as Django's own hooks do; flush
    sends the signal without `apps`, and then the installed models are the state."""
    if apps is None:
        from django.apps import apps
    try:
        model = apps.get_model("records", "Icd10Code")
    except LookupError:  # records not migrated (yet) in this database
        return
    from .icd10 import load_shipped

    load_shipped(model, using=using)


class RecordsConfig(AppConfig):
    name = "countycare.records"
    label = "records"
    verbose_name = "健康档案 Shared record"

    def ready(self) -> None:
        post_migrate.connect(load_shipped_icd10, sender=self, dispatch_uid="records.load_shipped_icd10")
