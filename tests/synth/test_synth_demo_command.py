"""`countycare demo` end to end: a fresh data directory, one user per role, the password from the environment,
and a second run that reuses the county and resets the passwords."""

import os
import sqlite3
import subprocess
import sys

from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.test import Client

from countycare.accounts.models import User
from countycare.core.codes import Role
from countycare.core.models import Community
from countycare.synth.demo import DEMO_USERNAMES


def run_demo(data_dir, password: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COUNTYCARE_DATABASE_URL", "COUNTYCARE_DATA_DIR")}
    env["COUNTYCARE_DEMO_PASSWORD"] = password
    command = [sys.executable, "-c", "from countycare.cli import main; main()", "demo", "--no-serve",
               "--population", "1500", "--data-dir", str(data_dir)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def demo_users(data_dir) -> dict[str, tuple]:
    with sqlite3.connect(data_dir / "countycare.sqlite3") as db:
        rows = db.execute(
            "SELECT username, role, password, is_superuser, organization_id, practitioner_id, resident_id "
            "FROM accounts_user"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_demo_creates_one_argon2_user_per_role_and_reruns_cleanly(tmp_path):
    first = run_demo(tmp_path, "Demo-pass-2026")
    assert first.returncode == 0, first.stderr
    assert "Demo-pass-2026" in first.stdout
    users = demo_users(tmp_path)
    assert {users[name][0] for name in DEMO_USERNAMES.values()} == set(Role.values)
    for name, (role, encoded, superuser, org, practitioner, resident) in users.items():
        assert encoded.startswith("argon2$")
        assert check_password("Demo-pass-2026", encoded)
        assert org is not None
        assert bool(superuser) == (name == "admin")
        if role == Role.RESIDENT:
            assert resident is not None
        elif role != Role.BUREAU_VIEWER:
            assert practitioner is not None, name

    second = run_demo(tmp_path, "Other-pass-2026")
    assert second.returncode == 0, second.stderr
    assert "reusing" in second.stdout
    assert "indicators:" in first.stdout and "indicators:" not in second.stdout
    with sqlite3.connect(tmp_path / "countycare.sqlite3") as db:
        kinds = dict(db.execute("SELECT period_kind, count(*) FROM assessment_computationrun GROUP BY 1").fetchall())
        county_visit_rate = db.execute("SELECT value FROM assessment_indicatorresult WHERE code = "
                                       "'county_visit_rate' AND level = 'county' AND period_kind = 'year'").fetchall()
    assert kinds.get("month", 0) >= 12 and kinds.get("year", 0) >= 1  # the dashboard opens with a year of months
    assert county_visit_rate and all(value is not None for (value,) in county_visit_rate)
    again = demo_users(tmp_path)
    assert set(again) == set(users)
    assert check_password("Other-pass-2026", again["admin"][1])
    assert not check_password("Demo-pass-2026", again["admin"][1])


def test_demo_in_the_configured_database_lets_every_user_log_in(db, monkeypatch, capsys):
    monkeypatch.setenv("COUNTYCARE_DEMO_PASSWORD", "Demo-pass-2026")
    call_command("demo", no_serve=True, population=1500)
    assert Community.objects.count() == 1
    assert "Demo-pass-2026" in capsys.readouterr().out
    for username in DEMO_USERNAMES.values():
        response = Client().post("/login/", {"username": username, "password": "Demo-pass-2026"})
        assert response.status_code == 302, username
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.role == Role.COMMUNITY_ADMIN
    call_command("demo", no_serve=True, population=1500)  # again: reuse, no second county
    assert Community.objects.count() == 1
