"""A real Orthanc for the tests: one server per test session (per xdist worker) on a free port in a temp dir,
with its own random credentials. CI installs the `orthanc` package (.ci/run); when it is missing the
fixture fails with how to install it — never skipped.

Use it from a test module with `pytest_plugins = ["tests.diagnostics.orthanc_fixture"]` (or that line in
the root conftest): `orthanc_server` is the running server's handle; `orthanc` points the settings
(ORTHANC_URL/USERNAME/PASSWORD) at the server for one test and gives its client.
"""

from __future__ import annotations

import secrets

import pytest

from countycare.diagnostics import imaging


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory):
    try:
        imaging.orthanc_binary()
    except imaging.OrthancUnavailable as error:
        pytest.fail(f"the Orthanc tests need a real Orthanc server: {error}", pytrace=False)
    handle = imaging.start_server(tmp_path_factory.mktemp("orthanc"), port=imaging.free_port(),
                                  username="countycare-test", password=secrets.token_urlsafe(16))
    yield handle
    handle.stop()


@pytest.fixture
def orthanc(orthanc_server, settings) -> imaging.OrthancClient:
    """The session's Orthanc as the platform's configured server, for one test."""
    settings.ORTHANC_URL = settings.ORTHANC_PUBLIC_URL = orthanc_server.url
    settings.ORTHANC_USERNAME = orthanc_server.username
    settings.ORTHANC_PASSWORD = orthanc_server.password
    return imaging.OrthancClient()
