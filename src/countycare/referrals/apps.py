from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "countycare.referrals"
    label = "referrals"
    verbose_name = "分级诊疗与双向转诊 Tiered care and referral"
