"""Calling providers for any run of leased items: worker names, retries with backoff, and per-provider pools.

:func:`call_with_retries` retries transient errors with exponential backoff and jitter, honouring
``Retry-After``, and fails permanent errors at once; :class:`ProviderPools` holds one thread pool per provider,
sized by that provider's concurrency limit and paced by its shared limiter (:mod:`engine.limits`).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings

from engine.limits import limiter_for
from engine.providers import ProviderError, ProviderReply, ProviderRequest, get_provider
from imcbench_site import metrics


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# ------------------------------------------------------------------------------------------------ limits


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base: float = 1.0
    cap: float = 60.0
    sleep: object = time.sleep

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            max_retries=settings.JURY_MAX_TRANSIENT_RETRIES,
            base=settings.JURY_BACKOFF_BASE_SECONDS,
            cap=settings.JURY_BACKOFF_MAX_SECONDS,
        )

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry ``attempt`` (0-based): ``Retry-After`` when given, else full-jitter exponential."""
        if retry_after is not None:
            return min(retry_after, self.cap) + random.uniform(0, 0.1 * self.base)
        return random.uniform(self.base / 2, min(self.cap, self.base * 2**attempt))


@dataclass
class Outcome:
    reply: ProviderReply | None = None
    error: ProviderError | None = None
    calls: int = 0
    transient_errors: list[str] = field(default_factory=list)


def call_with_retries(provider, request: ProviderRequest, *, policy: RetryPolicy, limiter=None) -> Outcome:
    """Call ``provider`` once, retrying transient errors; never raises (the outcome carries the error).

    Each attempt holds a slot of ``limiter`` (:mod:`engine.limits`: calls in flight and their pacing) unless the
    provider holds one per HTTP exchange itself (it was built with that limiter).
    """
    outcome = Outcome()
    own_slots = limiter is not None and getattr(provider, "limiter", None) is not limiter
    for attempt in range(policy.max_retries + 1):
        outcome.calls += 1
        try:
            with limiter.slot() if own_slots else contextlib.nullcontext():
                outcome.reply = provider.complete(request)
            return outcome
        except ProviderError as error:
            outcome.error = error
            if not error.transient:
                return outcome
            outcome.transient_errors.append(str(error))
            if attempt == policy.max_retries:
                outcome.error = ProviderError(
                    f"gave up after {outcome.calls} calls: {error}", transient=True, status=error.status
                )
                return outcome
            policy.sleep(policy.delay(attempt, error.retry_after))
        except Exception as error:  # noqa: BLE001 — an SDK bug must fail the item, not the worker
            outcome.error = ProviderError(f"{type(error).__name__}: {str(error)[:300]}", transient=False)
            return outcome
    return outcome


class ProviderPools:
    """The providers a run calls: each one's instance, its limiter and a thread pool sized by that limiter.

    The limiter (:func:`engine.limits.limiter_for`) holds the provider's limits on calls in flight and requests per
    minute over every worker; a run's ``concurrency`` lowers its concurrency. ``providers`` maps a provider name
    to an instance (tests); the others are built with their limiter, and the SDK ones hold a slot per HTTP exchange.
    """

    def __init__(self, *, providers: dict | None, concurrency: int | None, thread_prefix: str, work: str = ""):
        self.work = work or thread_prefix  # the metrics' name for what the calls are for
        self.providers = dict(providers or {})
        self.concurrency = concurrency
        self.thread_prefix = thread_prefix
        self.limiters: dict[str, object] = {}
        self.limits: dict[str, int] = {}
        self.pools: dict[str, ThreadPoolExecutor] = {}

    def provider(self, name: str):
        """The provider called ``name``, its limiter and pool made on first use (raises when it is not usable)."""
        if name not in self.limiters:
            self.limiters[name] = limiter_for(name, concurrency=self.concurrency or None)
        limiter = self.limiters[name]
        if name not in self.providers:
            self.providers[name] = get_provider(name, limiter=limiter)
        if name not in self.pools:
            self.limits[name] = limiter.concurrency
            threads = limiter.concurrency
            if getattr(self.providers[name], "limiter", None) is limiter:
                # The slot covers only the HTTP exchange: a few more threads build requests and read replies
                # while every slot is busy.
                threads += max(2, limiter.concurrency // 4)
            prefix = f"{self.thread_prefix}-{name}"
            self.pools[name] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=prefix)
        return self.providers[name]

    @property
    def capacity(self) -> int:
        """Calls in flight at once over every provider used so far."""
        return sum(self.limits.values())

    def submit(self, name: str, function, /, *args) -> Future:
        """Run ``function(*args)`` in provider ``name``'s pool (call :meth:`provider` first)."""
        return self.pools[name].submit(function, *args)

    def call(self, name: str, request: ProviderRequest, *, policy: RetryPolicy) -> Outcome:
        """One call of provider ``name`` under its limiter, transient errors retried (in a pool thread)."""
        outcome = call_with_retries(self.providers[name], request, limiter=self.limiters[name], policy=policy)
        result = "ok" if outcome.error is None else "gave_up" if outcome.error.transient else "failed"
        metrics.PROVIDER_CALLS.labels(work=self.work, provider=name, outcome=result).inc()
        return outcome

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the pools; without ``wait``, calls not started are cancelled and those running are not awaited.

        Slots this process no longer uses go back to the other workers at once (see :mod:`engine.limits`)."""
        for pool in self.pools.values():
            pool.shutdown(wait=wait, cancel_futures=not wait)
        for limiter in self.limiters.values():
            limiter.give_back_idle()


# ------------------------------------------------------------------------------------------ building requests
