"""Benchmark: claiming work at benchmark scale, at every fill and under every sampling design.

Builds 100,000 conversations (4 turns each, 100 cases with an image) and one campaign (k = 3, its own 20
clinicians) per size (the first 10,000 conversations, then all 100,000) and per sampling design (uniform;
stratified and active with probabilities from ``jury.statistics.selection`` on synthetic judge scores, active
with its targeted-review conversations). It fills every campaign to 0 %, 66 % (each conversation 2 of 3 scores)
and 99 % of its slots with submitted annotations, and at each fill prints p50/p95 of ``claim_next`` in process
and of claim + page (the claim POST and the redirect to the workspace page) over HTTP against gunicorn
(``gunicorn.conf.py``, 2 workers, DEBUG off) on a loopback port. Each claimed item is then submitted, so the
next claim is a fresh one. Beside them it prints the queries of one claim and of its page and, on PostgreSQL,
the candidate query's own execution time and the indexes it used (EXPLAIN ANALYZE), which other load on the
machine barely moves, and the load average at each fill, which moves the wall-clock figures. After each bulk
fill it runs ``VACUUM ANALYZE`` on the tables the fill and the queue rebuild rewrote, as a deployment's
autovacuum would after such a load (the bench's bulk writes would otherwise leave dead row versions in the queue
index and statistics of before the fill, which no deployment keeps for long); the claims measured after it run
no VACUUM of their own.

    dropdb --if-exists -h 127.0.0.1 -U postgres bench && createdb -h 127.0.0.1 -U postgres bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/annotate.py

``--sizes 10000`` runs one size; ``--samples N`` sets the in-process claims per figure (HTTP: half as many).
The database must be empty of a previous run (drop and create it as above); without ``DATABASE_URL`` it is a
scratch SQLite file.
"""

import argparse
import http.cookiejar
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seeding import seed_conversations  # noqa: E402

CASES, CLINICIANS, MODELS, OVERLAP, TURNS = 100, 20, 4, 3, 4
DESIGNS = ("uniform", "stratified", "active")
FILLS = (0.0, 0.66, 0.99)
BATCH = 5000
FULL = {"safety": 4, "accuracy": 4, "uncertainty": 4}


def percentile_text(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[max(0, round(0.95 * len(ms)) - 1)]


def build_conversations(total: int) -> list[int]:
    from annotation.models import Conversation, ModelUnderTest

    models = ModelUnderTest.objects.bulk_create(
        ModelUnderTest(key=f"bench-model-{i}", name=f"Bench model {i}", family="Claude") for i in range(MODELS)
    )
    conditions = [c for c, _ in Conversation.Condition.choices]
    return seed_conversations(total=total, models=models, cases=CASES, turns=TURNS, key="conv", conditions=conditions)


def build_campaign(*, size: int, design: str, conversation_ids: list[int]):
    """A campaign over the first ``size`` conversations with its own clinicians; stratified and active record the
    probabilities their design gives synthetic judge scores (four judges on safety, errors concentrated on one
    model), active with its review items."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotation import services
    from annotation.models import Rubric
    from jury.statistics import selection

    key = f"bench-{size}-{design}"
    clinician = Group.objects.get(name="clinician")
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"{key}-{i}", password="!") for i in range(CLINICIANS)
    )
    clinician.user_set.add(*users)
    ids = conversation_ids[:size]
    campaign = services.create_campaign(
        key=key,
        name=key,
        rubric=Rubric.objects.get(is_default=True),
        conversations=[],
        clinicians=users,
        overlap=OVERLAP,
        seed=size,
    )
    services.add_conversations(campaign=campaign, conversation_ids=ids)
    if design != "uniform":
        services.set_sampling_design(campaign=campaign, design=design)
        rng = np.random.default_rng(size)
        model = np.arange(size) % MODELS
        truth = rng.integers(2, 6, size)
        judges = truth[:, None] + rng.normal(0, np.where(model == 0, 1.2, 0.3)[:, None], (size, 4))
        judges = np.clip(np.rint(judges), 1, 5)
        review = selection.review_mask(judges) if design == "active" else None
        stratum = selection.strata(model, (np.arange(size) // MODELS) % 3)
        pi = selection.selection_probabilities(
            design, judge_scores=judges, budget=0.8 * size, stratum=stratum, review=review
        )
        chosen, pi = selection.draw(pi, seed=size)
        flagged = [] if review is None else [ids[i] for i in chosen if review[i]]
        services.record_selection(
            campaign=campaign, probabilities={ids[i]: float(pi[i]) for i in chosen}, review=flagged
        )
    return campaign, users


def fill_to(*, campaign, users, fill: float, done: int) -> int:
    """Submitted annotations until ``fill`` of the campaign's slots are taken: conversation i is scored by
    clinicians i, i + 1, i + 2 (mod 20), the first two everywhere at 66 %, the third on 97 % of them at 99 %.
    ``done`` is how many of the three were already written; returns the new one."""
    from django.db import connection

    from annotation import services
    from annotation.models import Annotation

    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    rows = []
    target = 2 if fill >= 0.66 else 0
    for position in range(done, OVERLAP):
        if position >= target and not (fill >= 0.99 and position == 2):
            break
        for n, cid in enumerate(ids):
            if position == 2 and n % 100 >= 97:
                continue
            rows.append(
                Annotation(
                    conversation_id=cid,
                    annotator=users[(n + position) % CLINICIANS],
                    rubric_id=campaign.rubric_id,
                    campaign=campaign,
                    status="submitted",
                    scores=FULL,
                    version=1,
                )
            )
        done = position + 1
    for start in range(0, len(rows), BATCH):
        Annotation.objects.bulk_create(rows[start : start + BATCH], ignore_conflicts=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the rebuild's recount plans with the new annotations' statistics
            cursor.execute("ANALYZE annotation_annotation")
    services.rebuild_queue(campaign=campaign)
    vacuum()
    return done


def vacuum() -> None:
    """On PostgreSQL, ``VACUUM ANALYZE`` the tables a bulk fill and queue rebuild rewrote, as autovacuum does after
    a bulk load in a deployment: the queue index otherwise keeps the entries' dead versions ahead of the live ones,
    index-only scans visit the heap, and the planner sees the statistics of before the fill."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("annotation_annotation", "annotation_queueentry", "annotation_assignment"):
                cursor.execute(f"VACUUM ANALYZE {table}")


def in_process(*, campaign, users, samples: int) -> list[float]:
    from annotation.services import AnnotationInput, claim_next, submit

    claims = []
    for i in range(samples):
        clinician = users[i % len(users)]
        started = time.perf_counter()
        assignment = claim_next(clinician=clinician, campaign=campaign)
        claims.append(time.perf_counter() - started)
        assert assignment is not None, f"{campaign.key}: nothing left for {clinician}"
        submit(
            assignment=assignment,
            clinician=clinician,
            version=0,
            data=AnnotationInput(scores=FULL, rationale="", flags=[]),
        )
    return claims


def claim_plan(*, campaign, clinician) -> tuple[str, str]:
    """Queries of one claim and of its workspace page (rolled back), and on PostgreSQL the server's own time for
    the candidate query with the index it scanned (EXPLAIN ANALYZE): figures the machine's other load barely moves."""
    import json

    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotation.services import claim_next

    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            assignment = claim_next(clinician=clinician, campaign=campaign)
        browser = Client()
        browser.force_login(clinician)
        with CaptureQueriesContext(connection) as page:
            if assignment is not None:
                assert browser.get(f"/work/item/{assignment.pk}/", secure=True).status_code == 200
        picks = [q["sql"] for q in queries.captured_queries if '"taken" ASC' in q["sql"]]
        text = "-"
        if picks and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + picks[-1])
                plan = cursor.fetchone()[0]
            plan = plan if isinstance(plan, list) else json.loads(plan)
            indexes = sorted(set(re.findall(r'"Index Name": "([^"]+)"', json.dumps(plan))))
            text = f"{plan[0]['Execution Time']:.2f} ms via {', '.join(indexes)}"
        transaction.set_rollback(True)
    return f"{len(queries)}/{len(page) if assignment is not None else '-'}", text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HttpClinician:
    """One clinician's browser: a session made in the database (as a login would) and a CSRF cookie."""

    def __init__(self, *, base: str, user):
        from django.test import Client

        client = Client()
        client.force_login(user)
        self.user, self.base = user, base
        self.csrf = secrets.token_hex(16)
        jar = http.cookiejar.CookieJar()
        host = urllib.parse.urlparse(base).hostname
        for name, value in (("sessionid", client.cookies["sessionid"].value), ("csrftoken", self.csrf)):
            jar.set_cookie(
                http.cookiejar.Cookie(
                    0, name, value, None, False, host, False, False, "/", True, False, None, True, None, None, {}
                )
            )
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def claim_and_page(self, key: str) -> str:
        """POST the claim; urllib follows the redirect to the item page. Returns the page's URL."""
        request = urllib.request.Request(
            f"{self.base}/work/{key}/next/", data=b"", headers={"X-CSRFToken": self.csrf}, method="POST"
        )
        with self.opener.open(request, timeout=30) as response:
            body = response.read()
            url = response.geturl()
        assert b'id="version"' in body, f"{key}: the claim did not open an item ({url})"
        return url


def over_http(*, base: str, campaign, users, samples: int) -> list[float]:
    from annotation.models import Assignment
    from annotation.services import AnnotationInput, submit

    clinicians = [HttpClinician(base=base, user=user) for user in users]
    claims = []
    for i in range(samples):
        browser = clinicians[i % len(clinicians)]
        started = time.perf_counter()
        url = browser.claim_and_page(campaign.key)
        claims.append(time.perf_counter() - started)
        assignment = Assignment.objects.select_related("campaign").get(pk=int(url.rstrip("/").split("/")[-1]))
        submit(
            assignment=assignment,
            clinician=browser.user,
            version=0,
            data=AnnotationInput(scores=FULL, rationale="", flags=[]),
        )
    return claims


def start_gunicorn(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server_env = dict(
        env,
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="1",
        GUNICORN_ACCESS_LOG="/dev/null",
        DB_CONN_MAX_AGE="60",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "imcbench_site.wsgi", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="campaign sizes, comma-separated")
    parser.add_argument("--samples", type=int, default=100, help="in-process claims per figure (HTTP: half)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = Path(tempfile.mkdtemp(prefix="imcbench-annotate-"))
    env = dict(
        os.environ,
        IMCBENCH_DATA_DIR=str(work),
        MEDIA_ROOT=str(work / "media"),
        STATIC_ROOT=str(work / "static"),
        LOG_LEVEL="WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_SETTINGS_MODULE="imcbench_site.settings",
        CELERY_BROKER_URL="",
    )
    env.pop("CELERY_BROKER_URL")
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from annotation.models import Conversation

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    if Conversation.objects.exists():
        raise SystemExit("bench/annotate.py needs an empty database: drop and create it (see the docstring)")
    started = time.perf_counter()
    ids = build_conversations(max(sizes))
    campaigns = {
        (size, design): build_campaign(size=size, design=design, conversation_ids=ids)
        for size in sizes
        for design in DESIGNS
    }
    print(
        f"built {max(sizes):,} conversations and {len(campaigns)} campaigns (k = {OVERLAP}, {CLINICIANS} clinicians "
        f"each) on {connection.vendor} in {time.perf_counter() - started:.1f} s"
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}", flush=True)
    connection.close()
    server, base = start_gunicorn(env)
    done = dict.fromkeys(campaigns, 0)
    try:
        print(
            f"{'size':>7} {'design':<10} {'fill':>5} {'in process claim_next':>24} {'HTTP claim + page':>24}"
            "  queries claim/page  candidate query in PostgreSQL"
        )
        print(f"{'':>7} {'':<10} {'':>5} {'p50 ms':>11} {'p95 ms':>12} {'p50 ms':>11} {'p95 ms':>12}", flush=True)
        for fill in FILLS:
            started = time.perf_counter()
            for key, (campaign, users) in campaigns.items():
                done[key] = fill_to(campaign=campaign, users=users, fill=fill, done=done[key])
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"  (filled to {fill:.0%} in {time.perf_counter() - started:.1f} s; load average {load})", flush=True)
            for (size, design), (campaign, users) in campaigns.items():
                local = percentile_text(in_process(campaign=campaign, users=users, samples=args.samples))
                remote = percentile_text(
                    over_http(base=base, campaign=campaign, users=users, samples=max(10, args.samples // 2))
                )
                count, plan = claim_plan(campaign=campaign, clinician=users[0])
                print(
                    f"{size:>7,} {design:<10} {fill:>5.0%} {local[0]:>11.1f} {local[1]:>12.1f} "
                    f"{remote[0]:>11.1f} {remote[1]:>12.1f}  {count:>18}  {plan}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
