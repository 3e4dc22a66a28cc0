"""The production web server's settings (countycare.gunicorn_conf): the measured shape by default, the
environment's when set, and a file gunicorn itself accepts."""

import http.client
import importlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from countycare import gunicorn_conf


def load(monkeypatch, **env):
    for name in ("COUNTYCARE_WEB_BIND", "COUNTYCARE_WEB_WORKERS", "COUNTYCARE_WEB_THREADS",
                 "COUNTYCARE_WEB_KEEPALIVE_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(gunicorn_conf)


def test_threaded_workers_one_process_more_than_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    conf = load(monkeypatch)
    assert (conf.workers, conf.threads, conf.worker_class, conf.bind) == (3, 7, "gthread", "127.0.0.1:8000")
    assert conf.keepalive >= 5  # a village's connection is kept between its requests
    assert conf.KEEPALIVE_REQUESTS == 100


def test_the_environment_overrides(monkeypatch):
    conf = load(monkeypatch, COUNTYCARE_WEB_WORKERS="5", COUNTYCARE_WEB_THREADS="4",
                COUNTYCARE_WEB_BIND="0.0.0.0:9000", COUNTYCARE_WEB_KEEPALIVE_REQUESTS="20")
    assert (conf.workers, conf.threads, conf.bind, conf.KEEPALIVE_REQUESTS) == (5, 4, "0.0.0.0:9000", 20)
    load(monkeypatch)


def test_gunicorn_accepts_the_file():
    gunicorn = Path(sys.executable).with_name("gunicorn")
    done = subprocess.run([str(gunicorn), "--check-config", "-c", "python:countycare.gunicorn_conf",
                           "countycare.wsgi:application"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "countycare.settings"})
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_connection_closes_after_about_a_hundred_requests_spread_by_client(monkeypatch):
    conf = load(monkeypatch)
    counts = [conf.requests_per_connection(("127.0.0.1", port)) for port in range(40000, 40200)]
    assert min(counts) >= 50 and max(counts) < 150 and 90 <= sum(counts) / len(counts) <= 110
    assert len(set(counts)) > 50  # connections opened together close at different times
    peer = ("127.0.0.1", 40001)
    last = conf.requests_per_connection(peer)
    requests = [SimpleNamespace(req_number=n, peer_addr=peer, must_close=False) for n in (1, last - 1, last)]
    for req in requests:
        conf.pre_request(None, req)
    assert [req.must_close for req in requests] == [False, False, True]


def test_gunicorn_closes_a_keep_alive_connection_after_its_requests(monkeypatch):
    """Through a real gunicorn with the project's file: the connection's last answer says close and the server
    closes it; the client's next request goes out on a new connection."""
    conf = load(monkeypatch, COUNTYCARE_WEB_KEEPALIVE_REQUESTS="8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "countycare.settings", "COUNTYCARE_WEB_KEEPALIVE_REQUESTS": "8",
           "COUNTYCARE_WEB_WORKERS": "1", "COUNTYCARE_WEB_THREADS": "2", "COUNTYCARE_WEB_BIND": f"127.0.0.1:{port}"}
    server = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", "python:countycare.gunicorn_conf",
                               "countycare.wsgi:application"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        last = conf.requests_per_connection(conn.sock.getsockname())  # 4 to 11, by the client's port
        answers = []
        for _ in range(last + 1):
            conn.request("GET", "/api/referrals/inbox")  # no token: a 401, no database needed
            response = conn.getresponse()
            response.read()
            # http.client drops its socket when told to close, and opens a new one for the next request
            answers.append((response.status, response.getheader("Connection"), conn.sock is None))
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        load(monkeypatch)
    assert 4 <= last < 12
    assert answers == [(401, "keep-alive", False)] * (last - 1) + [(401, "close", True), (401, "keep-alive", False)]
