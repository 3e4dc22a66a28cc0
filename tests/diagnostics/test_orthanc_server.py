"""Running Orthanc for the platform: start_server, ensure_demo_server (what `countycare demo` calls) and the
`countycare orthanc` command for operators."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from countycare.diagnostics import imaging
from countycare.diagnostics.imaging import OrthancClient, OrthancUnavailable

pytest_plugins = ["tests.diagnostics.orthanc_fixture"]  # fixtures orthanc_server (session) and orthanc


def test_a_busy_port_is_refused(orthanc_server, tmp_path):
    port = int(orthanc_server.url.rsplit(":", 1)[1])
    with pytest.raises(OrthancUnavailable, match="in use"):
        imaging.start_server(tmp_path, port=port, username="u", password="p")
    assert not (tmp_path / "orthanc").exists()


def test_the_demo_uses_a_server_already_running(orthanc, orthanc_server, tmp_path):
    handle = imaging.ensure_demo_server(tmp_path)
    assert handle.process is None and handle.url == orthanc_server.url
    handle.stop()  # leaves a server it did not start alone
    assert orthanc_server.client().alive()


def test_the_demo_starts_one_under_the_data_dir_and_its_images_stay(settings, tmp_path):
    port = imaging.free_port()
    settings.ORTHANC_URL = settings.ORTHANC_PUBLIC_URL = f"http://127.0.0.1:{port}"
    settings.ORTHANC_USERNAME, settings.ORTHANC_PASSWORD = "demo", "demo-secret"
    with imaging.ensure_demo_server(tmp_path) as handle:
        assert handle.process is not None and handle.started_seconds < 15
        client = OrthancClient()
        assert client.alive()
        study = client.upload(imaging.synthetic_dicom(patient_name="张三", patient_id="R-1"))["ParentStudy"]
    assert not client.alive()
    assert stat.S_IMODE((tmp_path / "orthanc").stat().st_mode) == 0o700
    with imaging.ensure_demo_server(tmp_path):
        assert client.study(study)["PatientMainDicomTags"]["PatientName"] == "张三"


def test_the_demo_refuses_an_orthanc_that_lets_anyone_in(settings, tmp_path):
    """Debian's own service answers on 8042 without credentials: never used, and the message says why."""

    class OpenOrthanc(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"Version": "1.10.1"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenOrthanc)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.ORTHANC_URL = f"http://127.0.0.1:{server.server_port}"
        assert OrthancClient().alive() and OrthancClient().open_to_anyone()
        with pytest.raises(OrthancUnavailable, match="systemctl disable --now orthanc"):
            imaging.ensure_demo_server(tmp_path)
    finally:
        server.shutdown()
        server.server_close()


def test_the_demo_does_not_start_a_server_for_another_machine(settings, tmp_path):
    settings.ORTHANC_URL = "http://192.0.2.1:8042"  # TEST-NET: never answers
    with pytest.raises(OrthancUnavailable, match="does not answer"):
        imaging.ensure_demo_server(tmp_path)


def test_without_orthanc_installed_the_message_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.delenv("COUNTYCARE_ORTHANC_BINARY", raising=False)
    monkeypatch.setattr(imaging, "ORTHANC_BINARY", str(tmp_path / "no-such-orthanc"))
    monkeypatch.setattr(imaging.shutil, "which", lambda name: None)
    with pytest.raises(OrthancUnavailable, match="apt-get install -y --no-install-recommends orthanc") as missing:
        imaging.start_server(tmp_path, port=imaging.free_port(), username="u", password="p")
    assert missing.value.status == 503


def test_a_server_that_does_not_start_is_reported_with_its_log(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNTYCARE_ORTHANC_BINARY", "/bin/false")
    with pytest.raises(OrthancUnavailable, match="did not start"):
        imaging.start_server(tmp_path, port=imaging.free_port(), username="u", password="p", timeout=5)


def test_the_operator_command_runs_orthanc_until_interrupted(tmp_path):
    port = imaging.free_port()
    env = {**os.environ, "COUNTYCARE_DATA_DIR": str(tmp_path), "COUNTYCARE_ORTHANC_URL": f"http://127.0.0.1:{port}"}
    for name in ("COUNTYCARE_ORTHANC_PASSWORD", "COUNTYCARE_ORTHANC_USERNAME", "COUNTYCARE_DATABASE_URL"):
        env.pop(name, None)
    command = subprocess.Popen([sys.executable, "-m", "countycare.cli", "orthanc"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = command.stdout.readline()
            assert line, f"countycare orthanc ended early:\n{''.join(lines)}"
            lines.append(line)
            if line.startswith("Ctrl-C stops it"):
                break
        output = "".join(lines)
        password_file = Path(tmp_path) / "orthanc_password"
        assert f"running at http://127.0.0.1:{port}" in output and str(password_file) in output
        assert "user:     countycare" in output and "set COUNTYCARE_ORTHANC_URL" not in output
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        password = password_file.read_text().strip()
        assert password not in output
        assert OrthancClient(f"http://127.0.0.1:{port}", "countycare", password).alive()
        command.send_signal(signal.SIGINT)
        assert command.wait(30) == 0
        assert not OrthancClient(f"http://127.0.0.1:{port}", "countycare", password).alive()
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
