"""Benchmark: the researcher's results pages on the demo data (600 conversations, 573 clinician annotations, the
simulated jury's 21,600 judgements).

Builds the demo with its simulated jury in a scratch folder, then prints, per page, the server time in process
(Django test client, researcher logged in) of a first visit (cache emptied before each one) and of repeat visits:

- calibration, leaderboard (with and without a saved calibration), agreement, campaign progress, exports;
- a first visit as a browser makes it (``Sec-Fetch-Dest: document``): the time until the page with its progress
  state is there, and the time until the results have arrived (the page, then its htmx request for the results);
- "Save this calibration" (the POST and its redirect) right after a visit of the calibration page.

    .venv/bin/python bench/results_pages.py [--first 5] [--repeat 30] [--data-dir DIR]

``--data-dir``: build the demo there, or reuse the one an earlier run built there (the page code may differ).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BROWSER = {"HTTP_SEC_FETCH_DEST": "document", "HTTP_SEC_FETCH_MODE": "navigate"}
HTMX = {"HTTP_HX_REQUEST": "true"}


def percentiles(label: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    print(f"  {label:<52} p50 {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   (n={len(ms)})")


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    response = call()
    return time.perf_counter() - started, response


def measure(client, label: str, url: str, *, first: int, repeat: int) -> None:
    from django.core.cache import cache

    cold, warm = [], []
    for _ in range(first):
        cache.clear()
        seconds, response = timed(lambda: client.get(url))
        assert response.status_code == 200, (url, response.status_code)
        cold.append(seconds)
    for _ in range(repeat):
        seconds, response = timed(lambda: client.get(url))
        assert response.status_code == 200, (url, response.status_code)
        warm.append(seconds)
    percentiles(f"{label}: first visit", cold)
    percentiles(f"{label}: repeat visit", warm)


def measure_progress(client, label: str, url: str, *, first: int) -> None:
    """A browser's first visit: the page with its progress state, then the htmx request that brings the results."""
    from django.core.cache import cache

    shells, complete = [], []
    for _ in range(first):
        cache.clear()
        shell_seconds, response = timed(lambda: client.get(url, headers=None, **BROWSER))
        body = response.content.decode()
        if 'hx-trigger="load"' not in body:
            print(f"  {label}: no progress state (the page computes its results in the request)")
            return
        report_seconds, response = timed(lambda: client.get(url, **HTMX))
        assert response.status_code == 200
        shells.append(shell_seconds)
        complete.append(shell_seconds + report_seconds)
    percentiles(f"{label}: first visit, progress state shown", shells)
    percentiles(f"{label}: first visit, results shown", complete)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    work = args.data_dir or Path(tempfile.mkdtemp(prefix="imcbench-results-"))
    work.mkdir(parents=True, exist_ok=True)
    built = (work / "demo-built").exists()
    os.environ.update(
        IMCBENCH_DATA_DIR=str(work),
        MEDIA_ROOT=str(work / "media"),
        DEBUG="1",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_SETTINGS_MODULE="imcbench_site.settings",
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from jury.models import CalibrationArtifact

    if not built:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        call_command("setup_demo", "--with-jury", "--bundle-dir", str(work / "demo"), verbosity=0)
        (work / "demo-built").touch()
        print(f"demo with its simulated jury built on {connection.vendor} in {time.perf_counter() - started:.0f} s")
    print(f"demo data in {work}")
    client = Client()
    client.force_login(get_user_model().objects.get(username="researcher"))
    key = "demo-calibration"
    calibration = reverse("results:calibration", args=[key])
    leaderboard = reverse("results:leaderboard", args=[key])
    print(f"in process, researcher, campaign {key} (first visits: cache emptied before each):")
    measure(client, "calibration", calibration, first=args.first, repeat=args.repeat)
    measure_progress(client, "calibration", calibration, first=min(args.first, 3))
    measure(client, "leaderboard, no saved calibration", leaderboard, first=args.first, repeat=args.repeat)
    saves = []
    for _ in range(3):
        CalibrationArtifact.objects.all().delete()
        cache.clear()
        client.get(calibration)
        seconds, response = timed(lambda: client.post(reverse("results:calibration-save", args=[key]), follow=True))
        assert response.status_code == 200 and CalibrationArtifact.objects.exists()
        saves.append(seconds)
    percentiles("save this calibration, after a visit (POST + redirect)", saves)
    measure(client, "leaderboard, saved calibration", leaderboard, first=args.first, repeat=args.repeat)
    measure_progress(client, "leaderboard, saved calibration", leaderboard, first=min(args.first, 3))
    for label, url in (
        ("agreement", reverse("agreement:campaign", args=[key])),
        ("campaign progress", reverse("campaign-progress", args=[key])),
        ("exports", reverse("exports:page")),
    ):
        measure(client, label, url, first=args.first, repeat=args.repeat)


if __name__ == "__main__":
    main()
