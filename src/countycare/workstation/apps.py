from django.apps import AppConfig


class WorkstationConfig(AppConfig):
    name = "countycare.workstation"
    label = "workstation"
    verbose_name = "医生工作站 Doctor's workstation"
