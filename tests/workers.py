"""Running real Celery workers in tests: start, stop, kill mid-run, and wait for what they do."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from testkit.loopback import FakeProvider
from testkit.processes import start_group, stop_group

ROOT = Path(__file__).resolve().parents[1]


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def broker_url() -> str:
    parts = urlsplit(settings.CELERY_BROKER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BROKER_DB}", "", ""))


def worker_queues() -> list[str]:
    """Every queue the task routes name, and the default one: the test worker takes all the work."""
    return ["celery", *sorted({route["queue"] for route in settings.CELERY_TASK_ROUTES.values()})]


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return start_group(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "imcbench_site",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            "--queues",
            ",".join(worker_queues()),
            "-n",
            "jury-kill@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
    )


def kill_with_calls_in_flight(worker: subprocess.Popen, fake: FakeProvider, *, all_stored) -> tuple[int, dict]:
    """Stop the fake answering, wait for calls in flight and for every answer it sent to be stored
    (``all_stored()``), SIGKILL the worker and drop its calls, as dead connections would be.
    Returns how many calls were in flight and the requests answered before the kill (by body)."""
    fake.hold()  # nothing more is answered, requests already received included
    time.sleep(0.2)  # a reply being written at this moment reaches the worker
    wait_for(
        lambda: fake.calls > sum(fake.served.values()),
        timeout=10,
        what=f"calls in flight ({fake.calls} received, {sum(fake.served.values())} answered)",
    )
    wait_for(all_stored, timeout=10, what="every answered call to be stored")
    stop_group(worker, sig=signal.SIGKILL)
    in_flight = fake.calls - sum(fake.served.values())
    answered = dict(fake.served_distinct)
    fake.release(drop=True)
    return in_flight, answered


def wait_for_the_run_to_end(run_model, run_id: int, log: Path, *, timeout: float) -> None:
    wait_for(
        lambda: run_model.objects.get(pk=run_id).status != run_model.Status.RUNNING,
        timeout=timeout,
        interval=0.25,
        what=f"the run to finish (worker log: {log.read_text()[-3000:]})",
    )


BROKER_DB = 13  # a Redis database of its own, so no other worker picks up these tasks
