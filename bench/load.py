"""Load test: fifty clinicians at once against gunicorn + PostgreSQL + Redis, idle and during a jury run.

Builds a campaign of ``--conversations`` (3,000; k = 3, six turns each, one image per case) and ``--clinicians``
(50) accounts in a scratch PostgreSQL database of its own (``imcbench_load_bench`` on the server DATABASE_URL
names, dropped at the end), starts gunicorn from ``gunicorn.conf.py`` with DEBUG off, and runs every clinician
as its own HTTP session (``--processes`` client processes share them): claim (POST, 302 to the item), the item
page, three autosaves (htmx, as the workspace sends them) and a submit, again and again for ``--seconds`` (60).
Then, with two Celery workers started as the Procfile's ``worker-jury`` (and one ``worker-default``), a jury run
of two simulated judges over every conversation is launched and the same load runs while it is in progress.

Prints, per phase, throughput and p50/p95/p99 per operation (client-side, as the clinician waits), errors, how far
the jury got, and afterwards checks the database: every submit answered 2xx is a submitted annotation (none lost),
no clinician holds two live leases or two annotations of one conversation, no conversation is above its overlap k.
Goal on this 2-core machine: p95 < 150 ms for claim, page and autosave; during the jury run within 1.5× of idle.
``--think S`` makes each clinician pause S seconds on average (exponential) before each request, as a person reads,
chooses and types; with 0 (the default) every clinician sends its next request the moment the last is answered, which
saturates the server and shows its throughput rather than the wait a clinician sees.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/load.py [--clinicians 50] [--seconds 60] [--processes 5] [--think 2] [--no-jury]
"""

import argparse
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seeding import seed_conversations  # noqa: E402

from testkit.processes import start_group, stop_group  # noqa: E402

DATABASE = "imcbench_load_bench"
PASSWORD = "load-bench-password-7"
DIMENSIONS = ("safety", "accuracy", "uncertainty")
OPERATIONS = ("claim", "page", "autosave", "submit + claim next")


def server_url(database_url: str, name: str) -> str:
    return database_url.rsplit("/", 1)[0] + f"/{name}"


def recreate_database(database_url: str) -> str:
    with psycopg.connect(server_url(database_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    return server_url(database_url, DATABASE)


def drop_database(database_url: str) -> None:
    with psycopg.connect(server_url(database_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def build(*, conversations: int, clinicians: int) -> None:
    """The campaign, in bulk; every password hashed once with the production hasher."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from annotation.models import Conversation, ModelUnderTest, Rubric
    from annotation.services import create_campaign, ensure_roles_and_default_rubric
    from jury.models import Judge
    from jury.services import sync_prompts

    ensure_roles_and_default_rubric()
    sync_prompts()
    models = [
        ModelUnderTest.objects.create(key=key, name=key.title(), family=family)
        for key, family in (("load-claude", "Claude"), ("load-gpt", "GPT"))
    ]
    ids = seed_conversations(total=conversations, models=models, cases=200, turns=6, key="load")
    group = Group.objects.get(name="clinician")
    password = make_password(PASSWORD)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"load{i:02d}", password=password) for i in range(clinicians)
    )
    group.user_set.add(*users)
    create_campaign(
        key="load",
        name="Load",
        rubric=Rubric.objects.get(is_default=True),
        conversations=Conversation.objects.filter(pk__in=ids),
        clinicians=users,
        overlap=3,
    )
    for key in ("load-judge-a", "load-judge-b"):
        Judge.objects.create(key=key, provider="simulated", model_id=f"simulated/{key}", accepts_images=False)


def logged_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    for _ in range(5):  # fifty PBKDF2 logins at once keep a small machine busy: allow them time
        try:
            page = session.get(f"{base}/login/", timeout=60)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            session.post(
                f"{base}/login/",
                data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
                headers={"Referer": f"{base}/login/"},
                timeout=60,
            )
        except requests.RequestException:
            continue
        if "sessionid" in session.cookies:
            return session
    raise RuntimeError(f"{username} could not log in")


def one_clinician(session, base: str, until: float, results: list, errors: list, submits: list, think: float):
    """A clinician's session: claim, read, autosave three times and submit (which claims the next) until time is up."""
    csrf = {"X-CSRFToken": session.cookies.get("csrftoken", ""), "Referer": base}

    def timed(operation: str, call):
        if think:
            time.sleep(random.expovariate(1 / think))  # reading, choosing a score, typing
        started = time.perf_counter()
        try:
            response = call()
        except requests.RequestException as error:
            errors.append((operation, type(error).__name__))
            return None
        results.append((operation, time.perf_counter() - started, time.time()))
        if response.status_code >= 400:
            errors.append((operation, response.status_code))
            return None
        return response

    claim = timed("claim", lambda: session.post(f"{base}/work/load/next/", headers=csrf, allow_redirects=False))
    location = claim.headers.get("Location", "") if claim is not None else ""
    while "/work/item/" in location and time.time() < until:
        item = base + location
        page = timed("page", lambda: session.get(item))  # noqa: B023
        if page is None:
            return
        version = int(re.search(r'id="version" value="(\d+)"', page.text).group(1))
        scores = {}
        for dimension in DIMENSIONS:
            scores[f"score-{dimension}"] = "4"
            body = {**scores, "version": str(version)}
            headers = {**csrf, "HX-Request": "true"}
            saved = timed("autosave", lambda: session.post(f"{item}save/", data=body, headers=headers))  # noqa: B023
            if saved is not None:
                version = int(saved.headers.get("X-Annotation-Version", version))
        body = {**scores, "rationale": "Sound advice.", "version": str(version), "action": "submit"}
        # As in the workspace, a submit claims the clinician's next item and answers with a redirect to it.
        submitted = timed(
            "submit + claim next",
            lambda: session.post(f"{item}save/", data=body, headers=csrf, allow_redirects=False),  # noqa: B023
        )
        if submitted is None:
            return
        submits.append(time.time())
        location = submitted.headers.get("Location", "")


def client_process(base: str, usernames: list[str], think: float, ready, go, deadline, queue) -> None:
    """Log every clinician in (not timed), wait for the others, then run them all until the shared deadline."""
    import threading

    with ThreadPoolExecutor(max_workers=len(usernames)) as pool:
        sessions = list(pool.map(lambda username: logged_in(base, username), usernames))
    ready.wait()
    go.wait()
    results, errors, submits = [], [], []
    threads = [
        threading.Thread(target=one_clinician, args=(session, base, deadline.value, results, errors, submits, think))
        for session in sessions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((results, errors, submits))


def run_load(*, base: str, clinicians: int, processes: int, seconds: float, think: float) -> tuple[list, list, list]:
    """Latencies, errors and submit times of one timed window, which opens once every clinician is logged in."""
    context = multiprocessing.get_context("fork")
    usernames = [f"load{i:02d}" for i in range(clinicians)]
    queue, deadline = context.Queue(), context.Value("d", 0.0)
    ready, go = context.Barrier(processes + 1), context.Barrier(processes + 1)
    workers = [
        context.Process(target=client_process, args=(base, usernames[p::processes], think, ready, go, deadline, queue))
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    deadline.value = time.time() + seconds
    go.wait()
    results, errors, submits = [], [], []
    for _ in workers:
        r, e, s = queue.get()
        results, errors, submits = results + r, errors + e, submits + s
    for worker in workers:
        worker.join()
    return results, errors, submits


def report(title: str, results: list, errors: list, submitted: int, seconds: float) -> dict[str, float]:
    by_operation = defaultdict(list)
    for operation, duration, _ in results:
        by_operation[operation].append(duration * 1000)
    operations = sum(len(v) for v in by_operation.values())
    print(
        f"\n{title}: {operations / seconds:.1f} requests/s, {submitted / seconds:.1f} conversations submitted/s, "
        f"{len(errors)} errors over {seconds:.0f} s"
    )
    p95s = {}
    for operation in OPERATIONS:
        ms = sorted(by_operation.get(operation, []))
        if len(ms) < 2:
            continue
        q = statistics.quantiles(ms, n=100, method="inclusive")
        p95s[operation] = q[94]
        print(f"  {operation:<20} n={len(ms):5d}   p50 {q[49]:7.1f} ms   p95 {q[94]:7.1f} ms   p99 {q[98]:7.1f} ms")
    if errors:
        kinds = defaultdict(int)
        for operation, kind in errors:
            kinds[f"{operation}:{kind}"] += 1
        print("  errors:", dict(kinds))
    return p95s


def check_database(*, successful_submits: int) -> list[str]:
    from django.db.models import Count, Q

    from annotation.models import Annotation, Assignment, Campaign

    campaign = Campaign.objects.get(key="load")
    problems = []
    submitted = Annotation.objects.filter(campaign=campaign, status="submitted").count()
    if submitted != successful_submits:
        problems.append(f"{successful_submits} submits answered 2xx but {submitted} annotations are submitted")
    doubled = (
        Annotation.objects.filter(campaign=campaign)
        .values("conversation", "annotator")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    if doubled:
        problems.append(f"{doubled} clinician × conversation pairs have more than one annotation")
    live = Assignment.objects.filter(campaign=campaign, state=Assignment.State.ACTIVE)
    held = live.values("clinician").annotate(n=Count("id")).filter(n__gt=1).count()
    if held:
        problems.append(f"{held} clinicians hold more than one live lease")
    slots = (
        Assignment.objects.filter(campaign=campaign)
        .filter(Q(state=Assignment.State.ACTIVE) | Q(state=Assignment.State.SUBMITTED))
        .values("conversation")
        .annotate(n=Count("id"))
        .filter(n__gt=campaign.overlap)
        .count()
    )
    if slots:
        problems.append(f"{slots} conversations have more than k = {campaign.overlap} leases and submissions")
    return problems


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return start_group(command, cwd=ROOT, env=env, stdout=log.open("wb"))


def launch_jury_run() -> int:
    from jury import services
    from jury.models import Judge, JudgePrompt

    prompts = {p.dimension: p for p in JudgePrompt.objects.filter(dimension__in=DIMENSIONS).order_by("version")}
    run = services.create_run(name="Load jury run", judges=list(Judge.objects.all()), prompts=list(prompts.values()))
    services.launch_run(run=run)
    return run.pk


def jury_progress(run_id: int) -> str:
    from jury.models import JuryRun, WorkItem

    run = JuryRun.objects.get(pk=run_id)
    done = run.items.filter(status=WorkItem.Status.DONE).count()
    return f"{done} of {run.items.count()} judgements done ({run.get_status_display().lower()})"


def environment(*, database_url: str, broker: str, scratch: Path) -> dict[str, str]:
    """Production settings (DEBUG off) on loopback HTTP, as behind a TLS-terminating proxy."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "JURY_"))},
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "DEBUG": "0",
        "SECRET_KEY": "load-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "IMCBENCH_DATA_DIR": str(scratch),
        "MEDIA_ROOT": str(scratch / "media"),
        "STATIC_ROOT": str(scratch / "static"),
        "DB_CONN_MAX_AGE": "60",
        "DJANGO_SETTINGS_MODULE": "imcbench_site.settings",
    }


def start_web(env: dict, scratch: Path) -> tuple[subprocess.Popen, str]:
    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    web_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESS_LOG": os.devnull}
    web = start([gunicorn, "imcbench_site.wsgi", "-c", "gunicorn.conf.py"], web_env, scratch / "web.log")
    for _ in range(150):
        try:
            if requests.get(f"{base}/healthz", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    workers = os.environ.get("WEB_CONCURRENCY") or "2 × cores + 1"
    print(f"gunicorn: {workers} workers × {os.environ.get('GUNICORN_THREADS', '2')} threads on {base}")
    return web, base


def start_workers(env: dict, scratch: Path) -> list[subprocess.Popen]:
    """Two jury workers and the default one, as the Procfile's worker-jury and worker-default."""
    celery = [sys.executable, "-m", "celery", "-A", "imcbench_site", "worker", "--loglevel", "WARNING"]
    worker_env = {**env, "CELERY_WORKER_CONCURRENCY": "1"}
    return [
        start([*celery, "--queues", queues, "--hostname", f"{name}@%h"], worker_env, scratch / f"{name}.log")
        for name, queues in (("jury-1", "jury"), ("jury-2", "jury"), ("default", "celery"))
    ]


def phase(title: str, *, base: str, args) -> tuple[dict[str, float], int, int]:
    """One timed load; returns the p95 per operation, the submits answered and the request errors."""
    results, errors, submits = run_load(
        base=base, clinicians=args.clinicians, processes=args.processes, seconds=args.seconds, think=args.think
    )
    return report(title, results, errors, len(submits), args.seconds), len(submits), len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clinicians", type=int, default=50)
    parser.add_argument("--conversations", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", type=int, default=5, help="client processes the clinicians are spread over")
    parser.add_argument("--no-jury", action="store_true", help="skip the phase with a jury run in progress")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a clinician spends before each request (exponential); 0: back to back, the server saturated",
    )
    args = parser.parse_args()
    given, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
    if not given.startswith("postgres") or not broker.startswith("redis"):
        sys.exit(
            "bench/load.py runs on PostgreSQL and Redis: set DATABASE_URL (any database on the server; the bench "
            "makes its own) and CELERY_BROKER_URL (a Redis database no other worker uses)"
        )
    url = recreate_database(given)
    with TemporaryDirectory() as scratch:
        env = environment(database_url=url, broker=broker, scratch=Path(scratch))
        os.environ.update(env)
        import django

        django.setup()
        subprocess.run(
            [sys.executable, "manage.py", "deploy_setup"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        started = time.perf_counter()
        build(conversations=args.conversations, clinicians=args.clinicians)
        print(
            f"Built {args.conversations} conversations and {args.clinicians} clinicians in "
            f"{time.perf_counter() - started:.1f} s (PostgreSQL {DATABASE}, Redis {broker})"
        )
        web, base = start_web(env, Path(scratch))
        processes = [web]
        try:
            idle, submits, errors = phase(f"{args.clinicians} clinicians, idle", base=base, args=args)
            if not args.no_jury:
                processes += start_workers(env, Path(scratch))
                run_id = launch_jury_run()
                time.sleep(5)
                print(f"\njury run launched on two workers: {jury_progress(run_id)} when the load starts")
                busy, more_submits, more_errors = phase(
                    f"{args.clinicians} clinicians, jury run in progress", base=base, args=args
                )
                print(f"  jury run: {jury_progress(run_id)} when the load ends")
                submits, errors = submits + more_submits, errors + more_errors
                for operation in set(idle) & set(busy):
                    print(f"  {operation:<20} p95 during the jury run / idle: {busy[operation] / idle[operation]:.2f}×")
        finally:
            for process in processes:
                stop_group(process, grace=30)
        problems = check_database(successful_submits=submits)
        verdict = "; ".join(problems) or "0 lost or duplicated annotations, 0 double assignments, none above k"
        print(f"\ndatabase check after {submits} submits and {errors} request errors: {verdict}")
        from django.db import connections

        connections.close_all()
    drop_database(given)


if __name__ == "__main__":
    main()
