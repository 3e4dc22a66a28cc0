"""Hooks the diagnostics app registers at start-up: its scope provider, its timeline source and the
post-migrate load of the shipped reference data (exam types, report templates, critical-value rules).
Each hook's module fills this in; keeping them in one place keeps `apps.ready` one line."""
