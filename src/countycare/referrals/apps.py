from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReferralsConfig(AppConfig):
    name = "countycare.referrals"
    label = "referrals"
    verbose_name = "分级诊疗与双向转诊 Tiered care and referral"

    def ready(self) -> None:
        from . import catalogue, scope, timeline  # noqa: F401  scope registers the care-access provider

        post_migrate.connect(catalogue.load_if_empty, sender=self, dispatch_uid="referrals-default-catalogue")
        timeline.register()
