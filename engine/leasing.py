"""Leasing the items of any run (:mod:`engine.models`) and the run's bookkeeping.

Items are claimed under leases (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers),
renewed while their calls wait, released when given back; an item whose worker died is claimed again once its
lease runs out. :func:`finish_if_done` and :func:`stop_for_budget` keep the run's status true.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from engine.models import CacheEntry, LeasedItemBase, RunBase, RunStatus
from engine.providers import ProviderReply

log = logging.getLogger(__name__)


@dataclass
class WorkStats:
    """What one worker did in one call of ``work``: items claimed, done and failed, replies served from the cache,
    provider calls made, items given back; ``stopped`` is the run's status when it stopped the work early."""

    claimed: int = 0
    done: int = 0
    failed: int = 0
    cached: int = 0
    provider_calls: int = 0
    released: int = 0
    stopped: str = ""


def claim(*, model: type[LeasedItemBase], run_id: int, limit: int, worker: str, lease_seconds: int) -> list[int]:
    """Lease up to ``limit`` items of ``model`` that are pending, or running under a lease that has expired."""
    now = timezone.now()
    with transaction.atomic():
        query = model.objects.filter(run_id=run_id).filter(
            Q(status=model.Status.PENDING) | Q(status=model.Status.RUNNING, lease_until__lt=now)
        )
        if connection.features.has_select_for_update_skip_locked:
            query = query.select_for_update(skip_locked=True)
        ids = list(query.order_by("id").values_list("id", flat=True)[:limit])
        if ids:
            model.objects.filter(id__in=ids).update(
                status=model.Status.RUNNING, lease_until=now + timedelta(seconds=lease_seconds), worker=worker
            )
    return ids


def renew_leases(*, model: type[LeasedItemBase], ids, worker: str, lease_seconds: int) -> None:
    """Extend the leases ``worker`` still holds on items ``ids``."""
    if ids:
        model.objects.filter(pk__in=ids, worker=worker).update(
            lease_until=timezone.now() + timedelta(seconds=lease_seconds)
        )


def release(*, model: type[LeasedItemBase], ids, worker: str, status: str | None = None) -> int:
    """Give back the items ``ids`` that ``worker`` still runs: pending again, or ``status``. Returns how many."""
    if not ids:
        return 0
    return model.objects.filter(pk__in=ids, status=model.Status.RUNNING, worker=worker).update(
        status=status or model.Status.PENDING, lease_until=None, worker="", updated_at=timezone.now()
    )


def next_lease_expiry(*, model: type[LeasedItemBase], run_id: int):
    """When the first lease on a running item of the run ends (None when no item is leased)."""
    return (
        model.objects.filter(run_id=run_id, status=model.Status.RUNNING, lease_until__isnull=False)
        .order_by("lease_until")
        .values_list("lease_until", flat=True)
        .first()
    )


def finish_if_done(*, model: type[LeasedItemBase], run_id: int) -> bool:
    """Mark a running run finished when no item is pending or running. True when it is (now) finished."""
    items = model.objects.filter(run_id=run_id)
    if items.filter(status__in=[model.Status.PENDING, model.Status.RUNNING]).exists():
        return False
    failed = items.filter(status=model.Status.FAILED).exists()
    status = RunStatus.COMPLETED_WITH_FAILURES if failed else RunStatus.COMPLETED
    run_model = model._meta.get_field("run").related_model
    run_model.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(status=status, finished_at=timezone.now())
    return True


def stop_for_budget(*, run: RunBase, spent: Decimal) -> None:
    """Stop a running run at its budget cap, saying what was spent; ``run`` says it stopped either way."""
    updated = (
        type(run)
        .objects.filter(pk=run.pk, status=RunStatus.RUNNING)
        .update(
            status=RunStatus.BUDGET_STOPPED,
            finished_at=timezone.now(),
            message=f"Stopped at the budget cap ({run.budget}); {spent} spent.",
        )
    )
    if updated:
        log.info("%s stopped at its budget cap", run)
    run.status = RunStatus.BUDGET_STOPPED


def cached_reply(entry: CacheEntry) -> ProviderReply:
    """The provider reply a cache entry holds."""
    return ProviderReply(
        text=entry.text,
        input_tokens=entry.input_tokens,
        output_tokens=entry.output_tokens,
        request_id=entry.request_id,
        latency_ms=entry.latency_ms,
    )


def cache_entry(*, key: str, provider: str, model_id: str, reply: ProviderReply, origin: str) -> CacheEntry:
    """The (unsaved) cache entry holding ``reply``, the inverse of :func:`cached_reply`."""
    return CacheEntry(
        key=key,
        provider=provider,
        model_id=model_id,
        text=reply.text,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        request_id=reply.request_id,
        latency_ms=reply.latency_ms,
        origin=origin,
    )


def update_rows(model, objects, fields: list[str]) -> None:
    """``UPDATE … WHERE id = %s`` for many rows in one ``executemany`` (``bulk_update``'s CASE chains are slow)."""
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
