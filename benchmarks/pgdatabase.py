"""The benchmarks' PostgreSQL database: whether it exists, and a fresh empty one (run as scripts, the
benchmarks import this module from their own folder)."""

from __future__ import annotations

from urllib.parse import urlparse

import psycopg


def _maintenance_url(url: str) -> str:
    return urlparse(url)._replace(path="/postgres").geturl()


def database_exists(url: str) -> bool:
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [urlparse(url).path.lstrip("/")])
        return row.fetchone() is not None


def recreate_database(url: str, *, force: bool = False) -> None:
    """Drop the database of `url` (with `force`, ending its sessions first) and create it empty."""
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"' + (" WITH (FORCE)" if force else ""))
        conn.execute(f'CREATE DATABASE "{name}"')


def vacuum(url: str, tables: list[str]) -> bool:
    """VACUUM (ANALYZE) `tables` — what autovacuum would have done — and say whether autovacuum is on. A
    benchmark that updates rows and runs again and again on a server with autovacuum off (as on these
    machines) otherwise measures its own dead rows: by the tenth run the referral table held twice as many dead
    rows as live ones."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            conn.execute(f'VACUUM (ANALYZE) "{table}"')
        return conn.execute("SHOW autovacuum").fetchone()[0] == "on"
