"""The production web server's settings (countycare.gunicorn_conf): the measured shape by default, the
environment's when set, and a file gunicorn itself accepts."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

from countycare import gunicorn_conf


def load(monkeypatch, **env):
    for name in ("COUNTYCARE_WEB_BIND", "COUNTYCARE_WEB_WORKERS", "COUNTYCARE_WEB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(gunicorn_conf)


def test_threaded_workers_one_process_more_than_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    conf = load(monkeypatch)
    assert (conf.workers, conf.threads, conf.worker_class, conf.bind) == (3, 7, "gthread", "127.0.0.1:8000")
    assert conf.keepalive >= 5  # a village's connection is kept between its requests


def test_the_environment_overrides(monkeypatch):
    conf = load(monkeypatch, COUNTYCARE_WEB_WORKERS="5", COUNTYCARE_WEB_THREADS="4",
                COUNTYCARE_WEB_BIND="0.0.0.0:9000")
    assert (conf.workers, conf.threads, conf.bind) == (5, 4, "0.0.0.0:9000")
    load(monkeypatch)


def test_gunicorn_accepts_the_file():
    gunicorn = Path(sys.executable).with_name("gunicorn")
    done = subprocess.run([str(gunicorn), "--check-config", "-c", "python:countycare.gunicorn_conf",
                           "countycare.wsgi:application"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "countycare.settings"})
    assert done.returncode == 0, done.stdout + done.stderr
