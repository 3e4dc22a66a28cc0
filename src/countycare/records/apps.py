from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "countycare.records"
    label = "records"
    verbose_name = "健康档案 Shared record"
