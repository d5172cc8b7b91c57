"""The Procfile runs one web server, a worker for every queue the routes name, and one beat."""

import re
import shlex
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def queues_of(command: str) -> set[str]:
    words = shlex.split(command)
    return set(words[words.index("--queues") + 1].split(","))


def test_procfile_names_are_valid_and_commands_known():
    processes = procfile()
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", name) for name in processes)
    assert processes["web"] == "gunicorn imcbench_site.wsgi -c gunicorn.conf.py"
    assert processes["release"] == "python manage.py deploy_setup"
    assert processes["beat"].startswith("celery -A imcbench_site beat")


def test_every_routed_queue_has_exactly_one_worker_process():
    workers = [command for command in procfile().values() if " worker " in command]
    served = [queue for command in workers for queue in queues_of(command)]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {settings.CELERY_TASK_DEFAULT_QUEUE}
    assert sorted(served) == sorted(routed)


def test_the_deployment_guide_lists_every_process_command():
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for name, command in procfile().items():
        assert f"| {name} | `{command}` |" in guide, name
