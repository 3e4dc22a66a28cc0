"""Hooks the diagnostics app registers at start-up: its scope provider, its timeline source and the
post-migrate load of the shipped reference data (exam types, report templates, critical-value rules).
Each hook's module fills this in; keeping them in one place keeps `apps.ready` one line."""

from __future__ import annotations

from django.apps import apps
from django.db.models.signals import post_migrate

from . import reference, scope, timeline

scope.register()
timeline.register()
post_migrate.connect(reference.load_after_migrate, sender=apps.get_app_config("diagnostics"),
                     dispatch_uid="diagnostics.load_reference_data")
