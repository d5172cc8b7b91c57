"""The production processes, started from the Procfile's own commands, carry a study from claim to leaderboard.

``release`` readies the database and static files; ``web`` (gunicorn, DEBUG off), ``worker-default`` and
``worker-jury`` (real Celery workers on Redis) run on PostgreSQL. Through HTTP only, two clinicians claim and
submit the campaign's last open items, an admin creates and launches a jury run of simulated judges, which the jury
worker completes, saves the calibration and opens the leaderboard. Locally, without PostgreSQL and Redis, this
skips; in CI it must run.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from annotation.models import Annotation, Assignment
from jury import services as jury_services
from jury.models import CalibrationArtifact, Judge, JudgePrompt, JuryRun
from testkit.processes import start_group, stop_group
from tests.conftest import PASSWORD, missing
from tests.factories import ConversationFactory, ModelUnderTestFactory, UserFactory, scored_campaign
from tests.workers import database_url, free_port, wait_for
from tests.worlds import DIMENSIONS

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
BROKER_DB = 12  # its own Redis database: no other test's worker takes these tasks
PROCESSES = ("web", "worker-default", "worker-jury")


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def executable(command: str) -> list[str]:
    """The Procfile's command with its program taken from this interpreter's environment."""
    words = shlex.split(command)
    programs = {"python": [sys.executable], "celery": [sys.executable, "-m", "celery"]}
    return programs.get(words[0], [str(Path(sys.executable).with_name(words[0]))]) + words[1:]


@pytest.fixture
def stack(tmp_path):
    if connection.vendor != "postgresql":
        missing("PostgreSQL via DATABASE_URL")
    if not (settings.CELERY_BROKER_URL or "").startswith("redis"):
        missing("Redis via CELERY_BROKER_URL")
    broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    redis.Redis.from_url(broker).flushdb()
    port = free_port()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_", "CELERY_", "JURY_"))}
    env = {
        **keep,
        "DEBUG": "0",
        "SECRET_KEY": "stack-test-" + "s" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback, as behind a TLS-terminating proxy
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_WORKER_CONCURRENCY": "1",
        "IMCBENCH_DATA_DIR": str(tmp_path / "data"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DJANGO_SETTINGS_MODULE": "imcbench_site.settings",
    }
    commands = procfile()
    subprocess.run(executable(commands["release"]), cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    logs, processes = {}, {}
    try:
        for name in PROCESSES:
            logs[name] = tmp_path / f"{name}.log"
            processes[name] = start_group(executable(commands[name]), cwd=ROOT, env=env, stdout=logs[name].open("wb"))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/healthz"), timeout=60, what=f"gunicorn ({_tail(logs['web'])})")
        yield base, logs
    finally:
        for process in processes.values():
            stop_group(process)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def logged_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )
    assert response.ok and "sessionid" in session.cookies, response.text[-500:]
    return session


def post(session: requests.Session, url: str, data: dict | list) -> requests.Response:
    headers = {"X-CSRFToken": session.cookies["csrftoken"], "Referer": url}
    return session.post(url, data=data, headers=headers, timeout=30)


def a_study():
    """A campaign of 24 conversations (two models) in which two clinicians have scored all but two."""
    jury_services.sync_prompts()
    clinicians = [UserFactory(username=name, roles=["clinician"]) for name in ("carmen", "chidi")]
    admin = UserFactory(username="ada", is_staff=True, is_superuser=True)
    for user in (*clinicians, admin):  # the web server knows only the production hashers, not the tests' fast one
        user.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
        user.save(update_fields=["password"])
    models = [ModelUnderTestFactory(key=key, name=key.title(), family=family) for key, family in
              (("steady", "Claude"), ("shaky", "GPT"))]  # fmt: skip
    conversations = [
        ConversationFactory(model=models[i % 2], turns=[f"Patient {i}: my mole changed.", f"Reply {i}: see a GP."])
        for i in range(24)
    ]
    campaign = scored_campaign(
        key="stack",
        conversations=conversations[:22],
        unscored=conversations[22:],
        clinicians=clinicians,
        state="open",
        # steady scores 4 from both; shaky 3 from carmen and 2 from chidi, so the clinicians disagree on it
        score_of=lambda c, clinician: dict.fromkeys(
            DIMENSIONS, 4 if c.model == models[0] else 3 - clinicians.index(clinician)
        ),
    )
    Judge.objects.create(key="sim-a", provider="simulated", model_id="simulated/judge-a", accepts_images=False)
    Judge.objects.create(key="sim-b", provider="simulated", model_id="simulated/judge-b", accepts_images=False)
    return campaign, admin


def claim_and_submit(base: str, session: requests.Session) -> None:
    claimed = post(session, f"{base}/work/stack/next/", {})
    assert claimed.ok and "/work/item/" in claimed.url, claimed.text[-500:]
    version = re.search(r'id="version" value="(\d+)"', claimed.text).group(1)
    form = {f"score-{d}": "3" for d in DIMENSIONS} | {"rationale": "Reasonable advice.", "version": version}
    submitted = post(session, f"{claimed.url}save/", form | {"action": "submit"})
    assert submitted.ok, submitted.text[-500:]


@pytest.mark.django_db(transaction=True)
def test_claim_submit_jury_run_calibration_and_leaderboard_through_the_production_processes(stack):
    base, logs = stack
    campaign, _ = a_study()

    for username in ("carmen", "chidi"):
        clinician = logged_in(base, username)
        for _ in range(2):
            claim_and_submit(base, clinician)
    assert Annotation.objects.filter(campaign=campaign, status="submitted").count() == 48
    assert not Assignment.objects.filter(campaign=campaign, state=Assignment.State.ACTIVE).exists()

    admin = logged_in(base, "ada")
    prompts = JudgePrompt.objects.filter(dimension__in=DIMENSIONS).order_by("dimension", "-version")
    latest = {prompt.dimension: prompt for prompt in reversed(prompts)}
    form = [("name", "Stack run"), ("samples", "1")]
    form += [("judges", judge.pk) for judge in Judge.objects.filter(key__in=["sim-a", "sim-b"])]
    form += [("prompts", prompt.pk) for prompt in latest.values()]
    created = post(admin, f"{base}/jury/runs/new/", form)
    assert created.ok and re.search(r"/jury/runs/\d+/$", created.url), created.text[-800:]
    run = JuryRun.objects.get(name="Stack run")
    assert run.items.count() == 24 * 2 * len(DIMENSIONS)
    assert post(admin, f"{base}/jury/runs/{run.pk}/launch/", {}).ok

    def finished():
        run.refresh_from_db()
        return run.status != JuryRun.Status.RUNNING

    wait_for(finished, timeout=120, interval=0.5, what=f"the jury run (worker log: {_tail(logs['worker-jury'])})")
    assert run.status == JuryRun.Status.COMPLETED, run.message
    assert admin.get(f"{base}/jury/runs/{run.pk}/", timeout=10).ok

    saved = post(admin, f"{base}/campaigns/stack/calibration/save/", {})
    assert saved.ok, saved.text[-800:]
    assert CalibrationArtifact.objects.filter(campaign=campaign).count() == 1
    leaderboard = admin.get(f"{base}/campaigns/stack/leaderboard/", timeout=60)
    assert leaderboard.ok, leaderboard.text[-800:]
    assert "Steady" in leaderboard.text and "Shaky" in leaderboard.text
