"""The web server's settings, for gunicorn:

    gunicorn -c python:countycare.gunicorn_conf countycare.wsgi

COUNTYCARE_WEB_BIND     address to listen on (default 127.0.0.1:8000; put a TLS proxy such as nginx in front)
COUNTYCARE_WEB_WORKERS  worker processes (default: CPU cores + 1)
COUNTYCARE_WEB_THREADS  threads per worker (default 7)

Threaded workers (gthread) keep a village's keep-alive connection open without tying up a process. The shape
was measured with `benchmarks/referral_api.py` (20 clients creating and accepting referrals, 200 a second
offered, on a 2-core machine; docs/api.md, "Speed"): 3 processes × 7 threads kept p95 at 19-34 ms in all 12
runs of 30 s, where 2 × 10 — the same threads in fewer processes, so more of them waiting for each process's GIL —
fell behind for good in two runs of six after the cold start (p95 of seconds), and 2 × 2 left one process
idle while the other queued. Python runs one thread per process at a time, and the database and the clients
need the cores too: one process more than there are cores keeps both busy.
"""

import os

bind = os.environ.get("COUNTYCARE_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("COUNTYCARE_WEB_WORKERS") or (os.cpu_count() or 1) + 1)
worker_class = "gthread"
threads = int(os.environ.get("COUNTYCARE_WEB_THREADS") or 7)
keepalive = 30  # seconds an idle keep-alive connection stays open
timeout = 60
graceful_timeout = 30
