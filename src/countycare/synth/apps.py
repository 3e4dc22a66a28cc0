from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "countycare.synth"
    label = "synth"
