"""Reads of any run of leased items (:mod:`engine.models`): runs with their counts, and a run's live progress."""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from engine.models import ItemStatus, RunBase

RATE_WINDOW_SECONDS = 30


def runs_with_counts(run_model: type[RunBase]):
    """Runs of ``run_model`` with who created them and their item, done and failed counts."""
    return run_model.objects.select_related("created_by").annotate(
        item_count=Count("items"),
        done_count=Count("items", filter=Q(items__status=ItemStatus.DONE)),
        failed_count=Count("items", filter=Q(items__status=ItemStatus.FAILED)),
    )


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


def progress_line(progress: dict, *, run_label: str, details: list[str]) -> str:
    """One line of a run's progress for a command's output: ``details`` between the status and the money spent."""
    eta = f", ~{progress['eta_seconds']:.0f} s left" if progress["eta_seconds"] is not None else ""
    return f"{run_label} {progress['run'].pk} {progress['status']}: {', '.join(details)}, ${progress['cost']:.4f}{eta}"
