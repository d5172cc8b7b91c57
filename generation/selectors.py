"""Reads of conversation generation: cases to choose from, runs, their progress, conversations and failures."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, Sum

from annotation.models import Case, ModelUnderTest
from engine import progress as engine_progress
from engine.progress import item_progress, runs_with_counts
from generation.models import GenerationCall, GenerationItem, GenerationRun


def select_cases(selection: dict):
    """Cases chosen by ``{"keys": [...], "specialties": [...]}``; an empty selection is every case."""
    query = Case.objects.all()
    if selection.get("keys"):
        query = query.filter(key__in=selection["keys"])
    if selection.get("specialties"):
        query = query.filter(specialty__in=selection["specialties"])
    return query.order_by("key")


def specialties() -> list[str]:
    return list(Case.objects.exclude(specialty="").order_by("specialty").values_list("specialty", flat=True).distinct())


def models_with_endpoints():
    return ModelUnderTest.objects.filter(endpoint__isnull=False).select_related("endpoint").order_by("key")


def models_without_endpoints():
    return ModelUnderTest.objects.filter(endpoint__isnull=True).order_by("key")


def runs():
    return runs_with_counts(GenerationRun)


def call_totals(calls) -> dict:
    """Replies (``calls``), provider calls made (``fresh``, retries included), cache hits, tokens and money."""
    totals = calls.aggregate(
        fresh=Sum("attempts", filter=Q(cached=False)),
        cached=Count("id", filter=Q(cached=True)),
        calls=Count("id"),
        cost=Sum("cost"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
    )
    cost = Decimal(totals["cost"] or 0).quantize(Decimal("0.000001"))
    return {name: value or 0 for name, value in totals.items()} | {"cost": cost}


def run_progress(*, run: GenerationRun) -> dict:
    """Counts, calls, money and time left of a run, fresh from the database."""
    progress = item_progress(run=run, recent_rate=False)
    calls = call_totals(GenerationCall.objects.filter(item__run=run))
    return progress | {
        "simulated": run.patient_simulated or run.models_under_test.filter(endpoint__provider="simulated").exists(),
        "turns": calls["calls"],
        "calls": calls["fresh"],
        "cached": calls["cached"],
        "input_tokens": calls["input_tokens"],
        "output_tokens": calls["output_tokens"],
        "cost": calls["cost"],
    }


def progress_line(progress: dict) -> str:
    return engine_progress.progress_line(
        progress,
        run_label="generation run",
        details=[
            f"{progress['done']}/{progress['total']} conversations",
            f"{progress['failed']} failed",
            f"{progress['turns']} turns",
            f"{progress['calls']} provider calls",
            f"{progress['cached']} from the cache",
        ],
    )


def run_conversations(*, run: GenerationRun, limit: int = 200):
    return (
        run.items.filter(status=GenerationItem.Status.DONE)
        .select_related("conversation", "case", "model")
        .order_by("case__key", "model__key", "condition")[:limit]
    )


def run_failures(*, run: GenerationRun, limit: int = 50):
    return (
        run.items.filter(status=GenerationItem.Status.FAILED)
        .select_related("case", "model")
        .order_by("-finished_at")[:limit]
    )
