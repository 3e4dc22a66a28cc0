"""The web server's settings, for gunicorn:

    gunicorn -c python:countycare.gunicorn_conf countycare.wsgi

COUNTYCARE_WEB_BIND     address to listen on (default 127.0.0.1:8000; put a TLS proxy such as nginx in front)
COUNTYCARE_WEB_WORKERS  worker processes (default: CPU cores + 1)
COUNTYCARE_WEB_THREADS  threads per worker (default 7)
COUNTYCARE_WEB_KEEPALIVE_REQUESTS  requests a keep-alive connection serves before the server closes it (default 100)

Threaded workers (gthread) keep a village's keep-alive connection open without tying up a process. The shape
was measured with `benchmarks/referral_api.py` (20 clients creating and accepting referrals, 200 a second
offered, on a 2-core machine; docs/api.md, "Speed"): 3 processes × 7 threads kept p95 at 19-34 ms in all 12
runs of 30 s, where 2 × 10 — the same threads in fewer processes, so more of them waiting for each process's GIL —
fell behind for good in two runs of six after the cold start (p95 of seconds), and 2 × 2 left one process
idle while the other queued. Python runs one thread per process at a time, and the database and the clients
need the cores too: one process more than there are cores keeps both busy.
"""

import os
import zlib

bind = os.environ.get("COUNTYCARE_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("COUNTYCARE_WEB_WORKERS") or (os.cpu_count() or 1) + 1)
worker_class = "gthread"
threads = int(os.environ.get("COUNTYCARE_WEB_THREADS") or 7)
keepalive = 30  # seconds an idle keep-alive connection stays open
timeout = 60
graceful_timeout = 30

# A keep-alive connection stays on the worker process that accepted it. Clients that connect at once (20 in the
# benchmark, opened in the same few milliseconds) mostly land on the first process to wake: 15, 4 and 1 on the
# three processes in one run, where the busy one used 60-100 % of a core against 20-30 % and 5-10 % — and in the
# machine's slow stretches that one process, one GIL, fell seconds behind while a third of the two cores stood
# idle. So, as nginx does (keepalive_requests), a connection is closed after about KEEPALIVE_REQUESTS requests
# (its last answer says `Connection: close`); the client reconnects, every worker is woken for the new
# connection, and the least busy one tends to take it. The count is spread from half to one and a half times
# KEEPALIVE_REQUESTS by the client's address, so connections opened together do not all close together. The cost:
# one new TCP connection per ~100 requests. docs/api.md, "Speed".
KEEPALIVE_REQUESTS = int(os.environ.get("COUNTYCARE_WEB_KEEPALIVE_REQUESTS") or 100)


def requests_per_connection(peer: object) -> int:
    """How many requests the connection from `peer` (the client's address) serves before it is closed."""
    half = max(1, KEEPALIVE_REQUESTS // 2)
    return half + zlib.crc32(repr(peer).encode()) % (2 * half)


def pre_request(worker, req):
    """gunicorn's hook before each request: the connection's last request is answered with `Connection: close`."""
    if req.req_number >= requests_per_connection(req.peer_addr):
        req.must_close = True
