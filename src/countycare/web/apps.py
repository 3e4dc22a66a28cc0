from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "countycare.web"
    label = "web"
