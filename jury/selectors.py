"""Reads of the jury: runs, their progress, failures.

What every run shares (counts, live progress) is :mod:`engine.progress`.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, Sum

from annotation.models import Annotation
from engine import progress as engine_progress
from engine.progress import item_progress, runs_with_counts
from jury.models import (
    CalibrationArtifact,
    ExportJob,
    Judge,
    Judgement,
    JudgePrompt,
    JuryRun,
    LeaderboardSnapshot,
    WorkItem,
)


def runs():
    return runs_with_counts(JuryRun)


def launchable_judges():
    return Judge.objects.filter(active=True).order_by("provider", "key")


def launchable_prompts():
    return JudgePrompt.objects.exclude(template="").order_by("dimension", "key", "version")


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
    return engine_progress.progress_line(
        progress,
        run_label="run",
        details=[
            f"{progress['done']}/{progress['total']} done",
            f"{progress['failed']} failed",
            f"{progress['cached']} cached",
            f"{progress['calls']} provider calls",
            f"{progress['rate']:.1f}/s",
        ],
    )


def run_failures(*, run: JuryRun, limit: int = 50):
    return (
        run.items.filter(status=WorkItem.Status.FAILED)
        .select_related("conversation", "judge", "prompt")
        .order_by("-finished_at")[:limit]
    )


def latest_calibration(*, campaign):
    """The campaign's newest saved calibration artefact, or None."""

    return CalibrationArtifact.objects.filter(campaign=campaign).order_by("-version").first()


def leaderboard_snapshots(*, campaign=None):
    """Published leaderboard snapshots, newest first (of one campaign when given)."""

    snapshots = LeaderboardSnapshot.objects.select_related("campaign", "calibration", "created_by")
    return snapshots.filter(campaign=campaign) if campaign is not None else snapshots


def export_jobs(*, limit: int = 50):
    """The latest background export jobs, newest first."""

    return ExportJob.objects.select_related("created_by")[:limit]


def export_job_owning(*, name: str) -> ExportJob | None:
    """The finished export job whose file is stored exactly under ``name``."""

    return ExportJob.objects.filter(file=name, status=ExportJob.Status.DONE).first()


def export_row_counts() -> dict[str, int]:
    """How many rows each export kind would write now (calibrated scores: conversations with a scored judgement)."""

    scored = Judgement.objects.filter(status=Judgement.Status.SCORED, score__isnull=False)
    return {
        "judgements": Judgement.objects.count(),
        "annotations": Annotation.objects.filter(status=Annotation.Status.SUBMITTED).count(),
        "scores": scored.values("conversation_id").distinct().count(),
    }
