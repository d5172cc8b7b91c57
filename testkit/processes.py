"""Servers and workers that tests and benches start as subprocesses, each in a process group of its own.

gunicorn and Celery fork children of their own; signalling the whole group reaches every one of them, so a stopped
server leaves no worker behind holding its port, its database connections or a broker's tasks.
"""

import os
import signal
import subprocess
from pathlib import Path
from typing import IO


def start_group(command: list[str], *, cwd: Path, env: dict[str, str], stdout: IO) -> subprocess.Popen:
    """Start ``command`` as the leader of a new session (and so a new process group), its stderr into ``stdout``."""
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True)


def stop_group(process: subprocess.Popen, *, sig: int = signal.SIGTERM, grace: float = 20) -> None:
    """Send ``sig`` to the group ``process`` leads and wait ``grace`` seconds for it to exit; past that, SIGKILL
    the group and wait again. Nothing is sent if the process has already exited."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
