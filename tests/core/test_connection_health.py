"""A kept database connection that broke between two requests — the database restarted, an idle session was
killed — is replaced before the next request uses it, so that request is answered, not failed with a 500.

The requests go through Django's own WSGI handler (what gunicorn calls), which runs the per-request connection
upkeep; the test client skips it. The connection is broken by terminating its PostgreSQL server process from
another session. SQLite has nothing to break: its file is opened for each request (age 0, checked below), and
the SQLite test database lives in memory, which no reconnection could bring back — so that test runs in the
PostgreSQL half of the suite.
"""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from tests.conftest import allow_flush_after_test


@pytest.fixture
def flushable(transactional_db, request, django_db_blocker):
    allow_flush_after_test(request, django_db_blocker)


def answer(handler: WSGIHandler, path: str) -> tuple[int, bytes]:
    environ: dict = {"PATH_INFO": path, "HTTP_AUTHORIZATION": "Bearer not-a-token", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = b"".join(handler(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return int(statuses[0].split()[0]), body


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    """End that session from another one, as a restart does, and wait until its process has gone."""
    params = connection.get_connection_params()
    with psycopg.connect(dbname=params["dbname"], user=params.get("user"), host=params.get("host"),
                         port=params.get("port"), password=params.get("password"), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone() == (True,)


POSTGRESQL_ONLY = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "countycare.core.pgbackend",
    reason="PostgreSQL only: SQLite opens its file for each request and the test database is in memory")


def test_the_settings_keep_connections_and_check_them():
    database = settings.DATABASES["default"]
    assert database["CONN_HEALTH_CHECKS"] is True
    expected_age = 0 if database["ENGINE"] == "django.db.backends.sqlite3" else None
    assert database["CONN_MAX_AGE"] == expected_age


@POSTGRESQL_ONLY
def test_the_check_tells_a_live_idle_session_from_a_dead_or_busy_one(flushable):
    backend_pid()  # connected, idle
    assert connection.is_usable()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        assert not connection.is_usable()  # left inside a transaction: not safe to hand to the next request
        cursor.execute("ROLLBACK")
    assert connection.is_usable()
    terminate(backend_pid())
    assert not connection.is_usable()
    connection.close()
    assert not connection.is_usable()


@POSTGRESQL_ONLY
def test_a_request_after_the_connection_broke_is_answered(flushable):
    handler = WSGIHandler()
    # the token lookup reads the database: an unknown token is a 401 only if that read worked
    assert answer(handler, "/api/referrals/inbox")[0] == 401
    before = backend_pid()
    terminate(before)  # what a database restart does to every kept connection

    status, body = answer(handler, "/api/referrals/inbox")

    assert status == 401, body[:500]
    assert b'"detail"' in body
    assert backend_pid() != before  # a new session: the broken one was replaced, not reused
