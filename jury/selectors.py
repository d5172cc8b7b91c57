"""Reads of the jury: runs, their progress, failures.

:func:`runs_with_counts` and :func:`item_progress` read any run of leased items (:mod:`jury.run_base`); the
generation pages use them too.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from jury.models import Judge, JudgePrompt, JuryRun, WorkItem
from jury.run_base import ItemStatus, RunBase

RATE_WINDOW_SECONDS = 30


def runs_with_counts(run_model: type[RunBase]):
    """Runs of ``run_model`` with who created them and their item, done and failed counts."""
    return run_model.objects.select_related("created_by").annotate(
        item_count=Count("items"),
        done_count=Count("items", filter=Q(items__status=ItemStatus.DONE)),
        failed_count=Count("items", filter=Q(items__status=ItemStatus.FAILED)),
    )


def runs():
    return runs_with_counts(JuryRun)


def launchable_judges():
    return Judge.objects.filter(active=True).order_by("provider", "key")


def launchable_prompts():
    return JudgePrompt.objects.exclude(template="").order_by("dimension", "key", "version")


def item_progress(*, run: RunBase, recent_rate: bool) -> dict:
    """A run's items by status, the share finished, items finished a second and seconds left, fresh from the
    database. With ``recent_rate`` an active run's rate is that of the last ``RATE_WINDOW_SECONDS`` (the whole
    run's while none finished in them); otherwise, and once the run stopped, it is the whole run's."""
    run.refresh_from_db()
    counts = dict(run.items.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    total = sum(counts.values())
    done = counts.get(ItemStatus.DONE, 0)
    failed = counts.get(ItemStatus.FAILED, 0)
    finished = done + failed
    now = timezone.now()
    elapsed = ((run.finished_at or now) - run.started_at).total_seconds() if run.started_at else 0
    rate = finished / elapsed if elapsed > 0 else 0
    if recent_rate and run.is_active:
        recent = run.items.filter(finished_at__gte=now - timedelta(seconds=RATE_WINDOW_SECONDS)).count()
        rate = recent / RATE_WINDOW_SECONDS or rate
    remaining = counts.get(ItemStatus.PENDING, 0) + counts.get(ItemStatus.RUNNING, 0)
    return {
        "run": run,
        "status": run.status,
        "status_label": run.get_status_display(),
        "active": run.is_active,
        "total": total,
        "done": done,
        "failed": failed,
        "pending": counts.get(ItemStatus.PENDING, 0),
        "running": counts.get(ItemStatus.RUNNING, 0),
        "cancelled": counts.get(ItemStatus.CANCELLED, 0),
        "budget": run.budget,
        "percent": round(100 * finished / total) if total else 0,
        "rate": rate,
        "elapsed": elapsed,
        "eta_seconds": remaining / rate if run.is_active and rate > 0 else None,
    }


def run_progress(*, run: JuryRun) -> dict:
    """Counts, rate, money and time left of a run, fresh from the database."""
    progress = item_progress(run=run, recent_rate=True)
    totals = run.items.aggregate(
        cost=Sum("cost"),
        cached=Count("id", filter=Q(cached=True)),
        calls=Sum("provider_calls"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
    )
    return progress | {
        "simulated": run.judges.filter(provider="simulated").exists(),
        "cached": totals["cached"] or 0,
        "calls": totals["calls"] or 0,
        "input_tokens": totals["input_tokens"] or 0,
        "output_tokens": totals["output_tokens"] or 0,
        "cost": totals["cost"] or Decimal("0"),
    }


def progress_line(progress: dict) -> str:
    eta = f", ~{progress['eta_seconds']:.0f} s left" if progress["eta_seconds"] is not None else ""
    return (
        f"run {progress['run'].pk} {progress['status']}: {progress['done']}/{progress['total']} done, "
        f"{progress['failed']} failed, {progress['cached']} cached, {progress['calls']} provider calls, "
        f"{progress['rate']:.1f}/s, ${progress['cost']:.4f}{eta}"
    )


def run_failures(*, run: JuryRun, limit: int = 50):
    return (
        run.items.filter(status=WorkItem.Status.FAILED)
        .select_related("conversation", "judge", "prompt")
        .order_by("-finished_at")[:limit]
    )


def latest_calibration(*, campaign):
    """The campaign's newest saved calibration artefact, or None."""
    from jury.models import CalibrationArtifact

    return CalibrationArtifact.objects.filter(campaign=campaign).order_by("-version").first()


def leaderboard_snapshots(*, campaign=None):
    """Published leaderboard snapshots, newest first (of one campaign when given)."""
    from jury.models import LeaderboardSnapshot

    snapshots = LeaderboardSnapshot.objects.select_related("campaign", "calibration", "created_by")
    return snapshots.filter(campaign=campaign) if campaign is not None else snapshots


def export_jobs(*, limit: int = 50):
    """The latest background export jobs, newest first."""
    from jury.models import ExportJob

    return ExportJob.objects.select_related("created_by")[:limit]


def export_row_counts() -> dict[str, int]:
    """How many rows each export kind would write now (calibrated scores: conversations with a scored judgement)."""
    from annotation.models import Annotation
    from jury.models import Judgement

    scored = Judgement.objects.filter(status=Judgement.Status.SCORED, score__isnull=False)
    return {
        "judgements": Judgement.objects.count(),
        "annotations": Annotation.objects.filter(status=Annotation.Status.SUBMITTED).count(),
        "scores": scored.values("conversation_id").distinct().count(),
    }
