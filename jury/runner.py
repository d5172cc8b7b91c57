"""Running a jury: claim work items, build each judge request, call providers, score, store.

One call of :func:`work` claims items of a run (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
serialises writers), builds their requests, serves what it can from the content-addressed cache and sends the rest
to one thread pool per provider, sized by that provider's concurrency limit and paced by its requests-per-minute
limit. Provider calls happen in the pool threads, which never touch the database; this thread stores every reply
in the cache as soon as it arrives, then parses it and writes the judgement. Replies that break the scoring
contract are re-asked with a correction up to the run's ``max_attempts``; transient errors retry with exponential
backoff and jitter, honouring ``Retry-After``; permanent errors fail the item at once.

An item claimed by a worker that dies keeps its lease until ``JURY_LEASE_SECONDS`` pass, then any worker takes it
again — and finds the reply in the cache if the call had finished: no provider call is made twice.

Leasing, retries, provider pools and the cache are the run engine's (:mod:`engine.leasing`, :mod:`engine.calls`),
shared with conversation generation; this module is what is particular to judging.

It is long because the jury's Runner is one class: its work loop, reply handling and batched writes share the queue, the
calls in flight and the leases; the generic parts are in the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from engine import leasing
from engine.calls import Outcome, ProviderPools, RetryPolicy, worker_name
from engine.leasing import WorkStats, cache_entry, cached_reply, release, renew_leases, stop_for_budget, update_rows
from engine.models import CacheEntry
from engine.providers import ProviderError, ProviderReply, ProviderRequest, parse_reply
from engine.providers.base import ReplyError, redact
from jury.models import Judgement, JuryRun, WorkItem
from jury.requests import RequestBuilder, estimate_tokens, reask

log = logging.getLogger(__name__)

claim = partial(leasing.claim, model=WorkItem)
next_lease_expiry = partial(leasing.next_lease_expiry, model=WorkItem)
finish_if_done = partial(leasing.finish_if_done, model=WorkItem)


@dataclass
class Job:
    item: WorkItem
    request: ProviderRequest
    cache_key: str
    estimate: Decimal
    failures: list = field(default_factory=list)
    calls: int = 0
    salt: str = ""
    cost: Decimal = Decimal("0")
    input_tokens: int = 0
    output_tokens: int = 0
    admitted: bool = False
    earlier_failures: int = 0  # failures from before a "retry failed": history, not counted against max_attempts


class Runner:
    """Works through one run's items in this process. ``providers`` maps a provider name to an instance (tests)."""

    def __init__(self, run: JuryRun, *, providers: dict | None = None, policy: RetryPolicy | None = None):
        self.run = run
        self.worker = worker_name()
        self.policy = policy or RetryPolicy.from_settings()
        self.builder = RequestBuilder()
        self.pools = ProviderPools(providers=providers, concurrency=run.concurrency, thread_prefix="jury")
        self.lease = settings.JURY_LEASE_SECONDS
        self.inflight: dict[Future, Job] = {}
        self.inflight_by_provider: dict[str, int] = {}
        self.queue: deque[Job] = deque()
        self.finished: list[tuple[WorkItem, Judgement | None]] = []
        self._flushed_at = 0.0
        self._lock = threading.Lock()
        self._halt = False
        self._budget_hit = False
        self.reserved = Decimal("0")
        self.unsent: list[Job] = []
        self.new_cache: list[CacheEntry] = []
        self.stats = WorkStats()
        self.spent = Decimal("0")
        self._spent_checked = 0.0

    # -- state
    def _refresh(self) -> str:
        self.run.refresh_from_db(fields=["status"])
        return self.run.status

    def _spent(self, *, force: bool = False) -> Decimal:
        if force or time.monotonic() - self._spent_checked > 1.0:
            total = WorkItem.objects.filter(run_id=self.run.pk).aggregate(total=Sum("cost"))["total"]
            self.spent = total or Decimal("0")
            self._spent_checked = time.monotonic()
        return self.spent

    # -- preparing
    def _prepare(self, ids: list[int]) -> list[Job]:
        items = list(WorkItem.objects.filter(id__in=ids, worker=self.worker))
        self.builder.attach(items)
        jobs, broken = [], []
        for item in items:
            try:
                request = self.builder.build(
                    conversation=item.conversation,
                    judge=item.judge,
                    prompt=item.prompt,
                    dimension=item.dimension,
                    sample=item.sample_index,
                )
            except Exception as error:  # noqa: BLE001 — a broken item fails alone
                broken.append((item, f"could not build the request: {error}"))
                continue
            tokens_in, tokens_out = estimate_tokens(request, item.judge)
            salt = f"retry-{len(item.failures)}" if item.failures else ""
            jobs.append(
                Job(
                    item=item,
                    request=request,
                    salt=salt,
                    cache_key=request.cache_key(
                        provider=item.judge.provider, sample_index=item.sample_index, salt=salt
                    ),
                    estimate=item.judge.cost_of(input_tokens=tokens_in, output_tokens=tokens_out),
                    failures=list(item.failures),
                    earlier_failures=len(item.failures),
                )
            )
        for item, message in broken:
            self._fail(item, message=message, failures=list(item.failures) + [{"error": message}])
        return jobs

    def _serve_from_cache(self, jobs: list[Job]) -> list[Job]:
        """Resolve every job whose request is cached (re-asks included); return those that need a call."""
        need_call, pending = [], jobs
        while pending:
            entries = {e.key: e for e in CacheEntry.objects.filter(key__in=[j.cache_key for j in pending])}
            follow_ups = []
            for job in pending:
                entry = entries.get(job.cache_key)
                if entry is None:
                    need_call.append(job)
                    continue
                follow_up = self._handle_reply(job, cached_reply(entry), from_cache=entry.origin != job.item.key)
                if follow_up is not None:
                    follow_ups.append(follow_up)
            pending = follow_ups
        return need_call

    # -- finishing items
    def _handle_reply(self, job: Job, reply: ProviderReply, *, from_cache: bool) -> Job | None:
        """Score a reply; on a contract breach return the re-ask job (or fail the item when attempts are spent)."""
        item = job.item
        attempts = len(job.failures) - job.earlier_failures + 1
        self._account(job, reply, from_cache=from_cache)
        try:
            score, rationale = parse_reply(reply.text)
        except ReplyError as error:
            job.failures.append({"raw": reply.text, "error": str(error), "request_id": reply.request_id})
            if attempts >= self.run.max_attempts:
                self._fail(
                    item,
                    message=f"unusable reply after {attempts} attempts: {error}",
                    failures=job.failures,
                    reply=reply,
                    job=job,
                    from_cache=from_cache,
                )
                return None
            request = reask(job.request, reply_text=reply.text, error=str(error))
            job.request = request
            job.cache_key = request.cache_key(
                provider=item.judge.provider, sample_index=item.sample_index, salt=job.salt
            )
            return job
        self._succeed(job, reply, score=score, rationale=rationale, from_cache=from_cache)
        return None

    def _account(self, job: Job, reply: ProviderReply, *, from_cache: bool) -> None:
        """Add one reply's tokens and money to its job (a reply served from the cache costs nothing)."""
        job.input_tokens += reply.input_tokens
        job.output_tokens += reply.output_tokens
        if not from_cache:
            cost = job.item.judge.cost_of(input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)
            job.cost += cost
            self.spent += cost  # refreshed from the database every second; counted here meanwhile

    def _judgement(self, job: Job, reply: ProviderReply, *, status: str, score, rationale, from_cache: bool):
        item, judge = job.item, job.item.judge
        return Judgement(
            conversation_id=item.conversation_id,
            judge=judge,
            prompt=item.prompt,
            dimension=item.dimension,
            sample_index=item.sample_index,
            status=status,
            score=score,
            rationale=rationale,
            raw_reply=reply.text,
            usage={"input_tokens": job.input_tokens, "output_tokens": job.output_tokens},
            input_tokens=job.input_tokens,
            output_tokens=job.output_tokens,
            cost=job.cost,
            latency_ms=reply.latency_ms,
            request_id=reply.request_id,
            cached=from_cache,
            run=self.run,
            provider=judge.provider,
            model_id=judge.model_id,
            parameters=judge.parameters,
            attempts=len(job.failures) - job.earlier_failures + int(status == Judgement.Status.SCORED),
            simulated=judge.simulated,
            extra={"failures": job.failures} if job.failures else {},
        )

    def _succeed(self, job: Job, reply: ProviderReply, *, score: int, rationale: str, from_cache: bool) -> None:
        judgement = self._judgement(
            job, reply, status=Judgement.Status.SCORED, score=score, rationale=rationale, from_cache=from_cache
        )
        self._finish(
            job.item,
            status=WorkItem.Status.DONE,
            judgement=judgement,
            job=job,
            cached=from_cache,
            latency=reply.latency_ms,
        )
        self.stats.done += 1
        self.stats.cached += int(from_cache)

    def _fail(self, item: WorkItem, *, message: str, failures: list, reply=None, job=None, from_cache=False) -> None:
        judgement = None
        if reply is not None:  # the reply broke the contract: keep it as a failed judgement, raw text and all
            judgement = self._judgement(
                job, reply, status=Judgement.Status.FAILED, score=None, rationale="", from_cache=from_cache
            )
        self._finish(
            item, status=WorkItem.Status.FAILED, judgement=judgement, job=job, failures=failures, error=message
        )
        self.stats.failed += 1

    def _finish(
        self,
        item: WorkItem,
        *,
        status: str,
        judgement=None,
        job=None,
        failures=None,
        error: str = "",
        cached: bool = False,
        latency=None,
    ) -> None:
        """Buffer an item's outcome; :meth:`_flush` writes a whole batch in one transaction."""
        now = timezone.now()
        item.status = status
        item.failures = list(failures if failures is not None else (job.failures if job else []))
        item.error = error
        item.cached = cached
        item.attempts = len(item.failures) + int(status == WorkItem.Status.DONE)
        item.provider_calls = item.provider_calls + (job.calls if job else 0)
        item.latency_ms = latency
        item.cost = job.cost if job else Decimal("0")
        item.input_tokens = job.input_tokens if job else 0
        item.output_tokens = job.output_tokens if job else 0
        item.lease_until = None
        item.finished_at = item.updated_at = now
        self.finished.append((item, judgement))

    ITEM_FIELDS = [
        "status",
        "failures",
        "error",
        "cached",
        "attempts",
        "provider_calls",
        "latency_ms",
        "cost",
        "input_tokens",
        "output_tokens",
        "lease_until",
        "finished_at",
        "updated_at",
        "judgement",
    ]
    JUDGEMENT_FIELDS = [
        "status",
        "score",
        "rationale",
        "raw_reply",
        "usage",
        "input_tokens",
        "output_tokens",
        "cost",
        "latency_ms",
        "request_id",
        "cached",
        "run",
        "provider",
        "model_id",
        "parameters",
        "attempts",
        "simulated",
        "extra",
    ]

    def _flush(self) -> None:
        """Write buffered cache entries (committed first, on their own), then judgements and item outcomes."""
        if not self.new_cache and not self.finished:
            return
        if self.new_cache:
            with transaction.atomic():
                CacheEntry.objects.bulk_create(self.new_cache, ignore_conflicts=True)
            self.new_cache = []
        with transaction.atomic():
            self._write_judgements([j for _, j in self.finished if j is not None])
            items = []
            for item, judgement in self.finished:
                item.judgement = judgement
                items.append(item)
            update_rows(WorkItem, items, self.ITEM_FIELDS)
        self.new_cache = []
        self.finished = []
        self._flushed_at = time.monotonic()

    def _write_judgements(self, judgements: list) -> None:
        """Insert new judgements and update those a re-run or a retry finds stored, in bulk."""
        if not judgements:
            return

        def key(j):
            return (j.conversation_id, j.judge_id, j.prompt_id, j.dimension, j.sample_index)

        existing = {
            key(j): j.pk
            for j in Judgement.objects.filter(
                conversation_id__in={j.conversation_id for j in judgements},
                judge_id__in={j.judge_id for j in judgements},
                prompt_id__in={j.prompt_id for j in judgements},
            ).only("id", "conversation_id", "judge_id", "prompt_id", "dimension", "sample_index")
        }
        old, new = [], []
        for judgement in judgements:
            judgement.pk = existing.get(key(judgement))
            (old if judgement.pk else new).append(judgement)
        if old:
            update_rows(Judgement, old, self.JUDGEMENT_FIELDS)
        if new:
            try:
                with transaction.atomic():
                    Judgement.objects.bulk_create(new, batch_size=500)
            except IntegrityError:  # another worker wrote one of these meanwhile: update in place
                self._write_one_by_one(new)
            if any(j.pk is None for j in new):  # a backend that returns no ids
                for judgement in new:
                    judgement.pk = Judgement.objects.values_list("pk", flat=True).get(
                        conversation_id=judgement.conversation_id,
                        judge_id=judgement.judge_id,
                        prompt_id=judgement.prompt_id,
                        dimension=judgement.dimension,
                        sample_index=judgement.sample_index,
                    )

    def _write_one_by_one(self, judgements: list) -> None:
        """After a bulk insert lost a race: update each judgement another worker stored meanwhile, insert the rest."""
        for judgement in judgements:
            judgement.pk = None
            found = (
                Judgement.objects.filter(
                    conversation_id=judgement.conversation_id,
                    judge_id=judgement.judge_id,
                    prompt_id=judgement.prompt_id,
                    dimension=judgement.dimension,
                    sample_index=judgement.sample_index,
                )
                .values_list("pk", flat=True)
                .first()
            )
            if found:
                judgement.pk = found
                update_rows(Judgement, [judgement], self.JUDGEMENT_FIELDS)
            else:
                judgement.save(force_insert=True)

    def _release(self, jobs, *, status: str | None = None) -> None:
        ids = [job.item.pk for job in jobs]
        release(model=WorkItem, ids=ids, worker=self.worker, status=status)
        self.stats.released += len(ids)

    # -- the loop
    def _admit(self, job: Job) -> bool:
        """Called in a pool thread just before the call: False when the run halted or the budget would be passed."""
        with self._lock:
            if self._halt:
                return False
            if self.run.budget is not None:
                if self.spent + self.reserved + job.estimate > self.run.budget:
                    self._halt = self._budget_hit = True
                    return False
                self.reserved += job.estimate
            job.admitted = True
            return True

    def _call(self, job: Job, name: str) -> Outcome | None:
        if not self._admit(job):
            return None
        return self.pools.call(name, job.request, policy=self.policy)

    def _submit(self, job: Job) -> None:
        name = job.item.judge.provider
        self.pools.provider(name)
        # The pool runs ``limit`` calls at once; jobs submitted beyond that wait in its queue, so a thread starts
        # the next call the moment one ends, even while this thread is busy with the database.
        future = self.pools.submit(name, self._call, job, name)
        self.inflight[future] = job
        self.inflight_by_provider[name] = self.inflight_by_provider.get(name, 0) + 1

    def _collect(self, future: Future) -> Job | None:
        job = self.inflight.pop(future)
        name = job.item.judge.provider
        self.inflight_by_provider[name] -= 1
        outcome: Outcome | None = None if future.cancelled() else future.result()
        if job.admitted and self.run.budget is not None:
            with self._lock:
                self.reserved -= job.estimate
        job.admitted = False
        if outcome is None:  # never called: the run halted first
            self.unsent.append(job)
            return None
        job.calls += outcome.calls
        self.stats.provider_calls += outcome.calls
        if outcome.reply is None:
            error = outcome.error or ProviderError("no reply", transient=False)
            failures = job.failures + [{"error": e} for e in outcome.transient_errors[-3:]] + [{"error": str(error)}]
            self._fail(job.item, message=str(error), failures=failures, job=job)
            return None
        reply = outcome.reply
        # Cached first (flushed with this batch): a worker killed after the flush never pays for the call again.
        self.new_cache.append(
            cache_entry(key=job.cache_key, provider=name, model_id=job.request.model, reply=reply, origin=job.item.key)
        )
        return self._handle_reply(job, reply, from_cache=False)

    def _renew_leases(self) -> None:
        ids = [job.item.pk for job in (*self.inflight.values(), *self.queue)]
        renew_leases(model=WorkItem, ids=ids, worker=self.worker, lease_seconds=self.lease)

    def _halt_now(self) -> None:
        with self._lock:
            self._halt = True
        for future in list(self.inflight):
            future.cancel()

    def work(self, *, max_items: int | None = None) -> WorkStats:
        """Process items until none is claimable (or ``max_items`` were claimed), the run stops, or the budget.

        It is long because it is the one event loop of a worker (refresh, budget, lease renewal, submit, collect,
        flush) whose steps share timers and state; each step it calls is a method of its own."""
        batch = 32
        exhausted = False
        last_check = last_renew = last_spent = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if now - last_check > 0.5 and not self._halt:
                    last_check = now
                    if self._refresh() != JuryRun.Status.RUNNING:
                        self.stats.stopped = self.run.status
                        self._halt_now()
                        exhausted = True
                if self.run.budget is not None and now - last_spent > 1.0:
                    last_spent = now  # other workers spend too: read the total now and then
                    self._flush()
                    with self._lock:
                        self.spent = self._spent(force=True)
                if self._budget_hit and self.stats.stopped != JuryRun.Status.BUDGET_STOPPED:
                    self._stop_for_budget()
                    self._halt_now()
                    exhausted = True
                if now - last_renew > self.lease / 3:
                    last_renew = now
                    self._renew_leases()
                backlog = self.pools.capacity * 2
                if not exhausted and len(self.queue) + len(self.inflight) < max(batch, backlog * 2):
                    limit = batch if max_items is None else min(batch, max_items - self.stats.claimed)
                    ids = (
                        claim(run_id=self.run.pk, limit=limit, worker=self.worker, lease_seconds=self.lease)
                        if limit > 0
                        else []
                    )
                    self.stats.claimed += len(ids)
                    if not ids:
                        exhausted = True
                    else:
                        self.queue.extend(self._serve_from_cache(self._prepare(ids)))
                while self.queue and not self._halt:
                    job = self.queue[0]
                    name = job.item.judge.provider
                    try:
                        self.pools.provider(name)
                    except Exception as error:  # noqa: BLE001 — e.g. a provider without its key configured
                        self.queue.popleft()
                        message = f"provider {name} is not usable: {redact(str(error))[:300]}"
                        self._fail(job.item, message=message, failures=job.failures + [{"error": message}], job=job)
                        continue
                    if self.inflight_by_provider.get(name, 0) >= self.pools.limits[name] * 3:
                        break
                    self.queue.popleft()
                    self._submit(job)
                if self._halt and self.queue:
                    self.unsent.extend(self.queue)
                    self.queue.clear()
                if not self.inflight and not self.queue and exhausted:
                    break
                if self.inflight:
                    done, _ = wait(list(self.inflight), timeout=0.1, return_when=FIRST_COMPLETED)
                    for future in done:
                        follow_up = self._collect(future)
                        if follow_up is not None:
                            self.queue.extendleft(self._serve_from_cache([follow_up]))
                # Writes go in batches (a commit costs a disk sync): every 64 outcomes or 100 ms.
                if len(self.finished) + len(self.new_cache) >= 64 or time.monotonic() - self._flushed_at > 0.1:
                    self._flush()
                if self.unsent:
                    cancelled = self.run.status == JuryRun.Status.CANCELLED
                    self._release(self.unsent, status=WorkItem.Status.CANCELLED if cancelled else None)
                    self.unsent = []
        finally:
            self._halt_now()
            running = list(self.inflight)
            while running:  # calls already made are paid for: wait for them, keeping their items leased meanwhile
                _, running = wait(running, timeout=self.lease / 3)
                if running:
                    self._renew_leases()
            for future in list(self.inflight):
                try:
                    follow_up = self._collect(future)
                except Exception:  # noqa: BLE001
                    log.exception("jury: collecting a call failed")
                    continue
                if follow_up is not None:
                    self.unsent.append(follow_up)
            self._flush()
            self._release([*self.queue, *self.unsent])
            self.queue.clear()
            self.pools.shutdown()
        return self.stats

    def _stop_for_budget(self) -> None:
        stop_for_budget(run=self.run, spent=self._spent(force=True))
        self.stats.stopped = JuryRun.Status.BUDGET_STOPPED
        self.unsent.extend(self.queue)
        self.queue.clear()


def work(
    *, run_id: int, max_items: int | None = None, providers: dict | None = None, policy: RetryPolicy | None = None
) -> WorkStats:
    run = JuryRun.objects.get(pk=run_id)
    if run.status != JuryRun.Status.RUNNING:
        return WorkStats(stopped=run.status)
    return Runner(run, providers=providers, policy=policy).work(max_items=max_items)
