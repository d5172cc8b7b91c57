"""Gunicorn's settings for IMCBench Studio, read from the environment.

Run as ``gunicorn imcbench_site.wsgi -c gunicorn.conf.py``.

Every value has a default fit for one machine behind a TLS-terminating proxy; a value that cannot be right fails
at start-up (through ``imcbench_site.env``), never silently. docs/deployment.md lists them.
"""

import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from imcbench_site.env import env_int, env_str  # noqa: E402  (needs the path above)


def _default_workers() -> int:
    # The usual 2 × cores + 1, capped: each worker holds the whole app (NumPy, SciPy, Matplotlib) in memory.
    return min(2 * multiprocessing.cpu_count() + 1, 8)


bind = env_str("GUNICORN_BIND", f"0.0.0.0:{env_int('PORT', 8000)}").split(",")
workers = env_int("WEB_CONCURRENCY", _default_workers())
threads = env_int("GUNICORN_THREADS", 2)
# Long work (jury runs, exports, bundle imports) is queued to Celery; a request only has to save an upload.
timeout = env_int("GUNICORN_TIMEOUT", 120)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then, staggered, so a slow leak never grows without bound.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)
# The bundle upload form can be large; the request line and headers never are.
limit_request_line = env_int("GUNICORN_LIMIT_REQUEST_LINE", 8190)

# X-Forwarded-* headers are trusted only from these addresses (the proxy in front).
forwarded_allow_ips = env_str("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = env_str("GUNICORN_ACCESS_LOG", "-")
errorlog = env_str("GUNICORN_ERROR_LOG", "-")
loglevel = env_str("GUNICORN_LOG_LEVEL", env_str("LOG_LEVEL", "info")).lower()
# Client (as forwarded, then the proxy's address), method, path (no query string, no referrer: a search may hold
# words someone typed), status, bytes, duration, user agent and the request id the app's JSON log lines carry.
access_log_format = env_str(
    "GUNICORN_ACCESS_LOG_FORMAT",
    '%({x-forwarded-for}i)s %(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)sus "%(a)s" request_id=%({x-request-id}o)s',
)

# Heartbeat files on a RAM disk where there is one (containers often mount /tmp on overlayfs, which can stall).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"


def child_exit(server, worker):
    """A worker that ends leaves its metrics files; prometheus_client's multiprocess mode then stops counting its
    live gauges (counters and histograms are kept, as they must be)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
