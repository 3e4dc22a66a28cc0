"""Django's PostgreSQL backend, with a health check that does not ask the server.

Connections are kept for as long as a server thread runs and checked before their first use in each request
(`CONN_HEALTH_CHECKS`, settings.py). Django's check sends `SELECT 1`: one more round trip per request, which on
the 2-core machine costs about 0.1 ms of CPU each side and, with the CPU busy, a wait in line for the server
process (docs/api.md, "Speed"). A session that is idle between requests has nothing to say to us, so this
check only looks at the socket instead: a server that restarted or killed the session has sent its FATAL
message and closed, which makes the socket readable. Readable, closed or not idle → not usable, and Django
opens a new connection. A broken network with no close is not seen by either check; the request then fails
and the connection is replaced, as before.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresqlDatabaseWrapper
from psycopg import pq


class DatabaseWrapper(PostgresqlDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        pgconn = connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError, psycopg.Error):  # no socket any more
            return False
        return not readable
