"""Per-provider limits: calls in flight and requests per minute, within a process and across processes (Redis)."""

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from engine import calls
from engine.limits import LocalLimiter, RedisLimiter, limiter_for
from engine.providers import Message, ProviderReply, ProviderRequest
from engine.providers.openai import OpenAIProvider
from testkit.loopback import FakeProvider
from tests.conftest import missing

REQUEST = ProviderRequest(model="fake-judge", system="", messages=(Message(role="user", text="Score this."),))


class Occupancy:
    """Counts how many holders are inside at once."""

    def __init__(self):
        self.now = self.most = self.entered = 0
        self._lock = threading.Lock()

    def __enter__(self):
        with self._lock:
            self.now += 1
            self.entered += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc):
        with self._lock:
            self.now -= 1


def occupy(limiter, occupancy: Occupancy, seconds: float = 0.02) -> None:
    with limiter.slot(), occupancy:
        time.sleep(seconds)


@pytest.fixture
def redis_client():
    """A Redis database of the limiter tests' own: the broker's server (CI) or a local one if it answers."""
    import redis

    base = settings.CELERY_BROKER_URL if (settings.CELERY_BROKER_URL or "").startswith("redis") else None
    parts = urlsplit(base or "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(urlunsplit((parts.scheme, parts.netloc, "/14", "", "")))
    try:
        client.ping()
    except redis.RedisError:
        missing("Redis (for the shared limiter)")
    yield client
    client.close()


def shared(client, name: str, **limits) -> RedisLimiter:
    """A limiter as one worker process would hold it: its own connection pool onto the shared server."""
    own = client.__class__(connection_pool=client.connection_pool.__class__(**client.connection_pool.connection_kwargs))
    return RedisLimiter(client=own, name=name, lease_seconds=limits.pop("lease_seconds", 30), **limits)


def test_a_local_limiter_never_lets_more_calls_in_than_its_limit():
    limiter, occupancy = LocalLimiter(name="t", concurrency=3, rpm=0), Occupancy()
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda _: occupy(limiter, occupancy), range(36)))
    assert occupancy.entered == 36
    assert occupancy.most == 3


def test_the_limit_holds_over_processes_sharing_one_redis(redis_client):
    name = f"test-{uuid.uuid4().hex[:8]}"
    workers = [shared(redis_client, name, concurrency=3, rpm=0) for _ in range(2)]  # two "processes"
    occupancy = Occupancy()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: occupy(workers[i % 2], occupancy), range(48)))
    assert occupancy.entered == 48
    assert occupancy.most == 3
    assert eventually(lambda: workers[0].in_flight() == 0)  # idle processes give every lease back


def eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_busy_process_gives_a_newly_busy_one_its_share(redis_client):
    name = f"test-{uuid.uuid4().hex[:8]}"
    first, second = (shared(redis_client, name, concurrency=4, rpm=0) for _ in range(2))
    both, stop = Occupancy(), threading.Event()

    def keep_busy(limiter) -> None:
        while not stop.is_set():
            occupy(limiter, both, seconds=0.01)

    with ThreadPoolExecutor(16) as pool:
        try:
            for _ in range(8):
                pool.submit(keep_busy, first)
            assert eventually(lambda: len(first._leases) == 4), first._leases  # alone, it uses the whole limit
            for _ in range(8):
                pool.submit(keep_busy, second)
            assert eventually(lambda: len(first._leases) == 2 and len(second._leases) == 2), (
                first._leases,
                second._leases,
            )  # then half each
        finally:
            stop.set()
    assert both.most == 4


def test_a_dead_workers_slots_come_back_when_their_leases_end(redis_client):
    name = f"test-{uuid.uuid4().hex[:8]}"
    dead = shared(redis_client, name, concurrency=2, rpm=0, lease_seconds=0.5)
    assert len(dead._take(2)) == 2  # taken, never renewed nor given back: the process died
    alive = shared(redis_client, name, concurrency=2, rpm=0, lease_seconds=0.5)
    assert alive._take(1) == []
    started = time.monotonic()
    with alive.slot():
        waited = time.monotonic() - started
        assert alive.in_flight() == 1
    assert 0.3 < waited < 5


def test_a_held_slot_is_renewed_while_its_call_lasts(redis_client):
    name = f"test-{uuid.uuid4().hex[:8]}"
    holder = shared(redis_client, name, concurrency=1, rpm=0, lease_seconds=0.6)
    other = shared(redis_client, name, concurrency=1, rpm=0, lease_seconds=0.6)
    with holder.slot():
        time.sleep(1.5)  # more than two lease lengths: only renewal keeps the slot
        assert other._take(1) == []
    assert eventually(lambda: other._take(1) != [])  # given back once the holder has been idle a while


def test_requests_per_minute_are_spaced_over_processes(redis_client):
    name = f"test-{uuid.uuid4().hex[:8]}"
    workers = [shared(redis_client, name, concurrency=8, rpm=600) for _ in range(2)]  # one start every 0.1 s
    starts, lock = [], threading.Lock()

    def call(index: int) -> None:
        with workers[index % 2].slot(), lock:
            starts.append(time.monotonic())

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(call, range(6)))
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(starts))]
    assert len(gaps) == 5
    assert min(gaps) > 0.08  # 0.1 s apart, less the scheduling jitter of a busy machine


def test_the_sdk_provider_holds_a_slot_for_each_http_exchange_only():
    occupancy = Occupancy()

    class Counting(LocalLimiter):
        def slot(self):
            inner = super().slot()

            class Both:
                def __enter__(self_):
                    inner.__enter__()
                    occupancy.__enter__()

                def __exit__(self_, *exc):
                    occupancy.__exit__(*exc)
                    return inner.__exit__(*exc)

            return Both()

    limiter = Counting(name="openai", concurrency=2, rpm=0)
    with FakeProvider(latency=0.05) as fake:
        provider = OpenAIProvider(api_key="sk-test-0123456789", base_url=f"{fake.url}/v1", limiter=limiter)
        with ThreadPoolExecutor(8) as pool:
            replies = list(
                pool.map(
                    lambda i: provider.complete(
                        ProviderRequest(model="m", system="", messages=(Message(role="user", text=f"Item {i}"),))
                    ),
                    range(12),
                )
            )
    assert all('"score"' in reply.text for reply in replies)
    assert occupancy.entered == 12  # one slot per call
    assert occupancy.most == 2
    assert fake.calls == 12


def test_the_runner_holds_a_slot_around_providers_that_do_not_hold_their_own():
    occupancy = Occupancy()
    limiter = LocalLimiter(name="simulated", concurrency=2, rpm=0)

    class Slow:
        def complete(self, request):
            with occupancy:
                time.sleep(0.02)
            return ProviderReply(text='{"score": 3, "rationale": "ok"}')

    policy = calls.RetryPolicy(max_retries=0)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(lambda _: calls.call_with_retries(Slow(), REQUEST, policy=policy, limiter=limiter), range(16))
        )
    assert all(outcome.reply for outcome in outcomes)
    assert occupancy.most == 2


def test_limits_come_from_the_provider_settings_and_the_run(settings):
    settings.JURY_LIMITER_URL = None
    settings.JURY_PROVIDERS = {**settings.JURY_PROVIDERS, "openai": {"concurrency": 5, "rpm": 120}}
    limiter = limiter_for("openai")
    assert isinstance(limiter, LocalLimiter) and (limiter.concurrency, limiter.rpm) == (5, 120)
    assert limiter_for("openai") is limiter  # one per process, shared by every runner thread
    assert limiter_for("openai", concurrency=16).concurrency == 16  # a run's own limit
