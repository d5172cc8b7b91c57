"""Per-provider limits on calls in flight and requests per minute, shared by every worker that judges.

A provider's limits hold across processes when ``JURY_LIMITER_URL`` names a Redis server (by default the Celery
broker's): slots are leases in a sorted set, requests-per-minute a shared "next start" time, both changed by Lua
scripts so that check and take are one atomic step. Without Redis (the embedded default, Celery eager: one
process) the same limits are a semaphore and a pacer in this process.

A slot is held for the HTTP exchange only, where the SDK lets us wrap its transport (Anthropic, OpenAI): a
provider's limit is on requests it serves at once, and the client's own work before and after (building the body,
parsing the reply) need not hold one. Bedrock and the simulated provider hold a slot for the whole call.
A worker that dies holding a slot gives it back when its lease ends (``lease_seconds``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

from django.conf import settings

KEY_PREFIX = "imcbench:jury:limit"

log = logging.getLogger(__name__)


class Pacer:
    """Spaces call starts at least ``60 / rpm`` seconds apart (thread-safe); ``rpm=0`` means no limit."""

    def __init__(self, rpm: int):
        self.interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class LocalLimiter:
    """Limits within this process: a semaphore for calls in flight and a :class:`Pacer` for their starts."""

    shared = False

    def __init__(self, *, name: str, concurrency: int, rpm: int):
        self.name = name
        self.concurrency = max(1, concurrency)
        self.rpm = rpm
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._pacer = Pacer(rpm)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            self._pacer.wait()
            yield


# KEYS: the leases (a sorted set: holder -> when its lease ends) and the queue of waiting holders.
# ARGV: limit, lease seconds, holder. 1: the holder has a slot (maybe granted by a release while it waited).
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local ttl = math.ceil(tonumber(ARGV[2]) * 2000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
redis.call('LREM', KEYS[2], 0, ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
return 0
"""

# KEYS: the leases and the waiting queue. ARGV: limit, lease seconds, the releasing holder, the wake-up key prefix.
# Hands freed slots straight to the longest waiting holders and wakes each on a list of its own.
_RELEASE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local ttl = math.ceil(tonumber(ARGV[2]) * 2000)
redis.call('ZREM', KEYS[1], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
while redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) do
  local waiter = redis.call('LPOP', KEYS[2])
  if not waiter then
    break
  end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), waiter)
  redis.call('RPUSH', ARGV[4] .. waiter, 1)
  redis.call('PEXPIRE', ARGV[4] .. waiter, ttl)
end
return 0
"""

# KEYS[1]: the leases. ARGV: lease seconds, then the holders whose leases to extend (only those still there).
_RENEW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) * 2000))
return #ARGV - 1
"""

# KEYS[1]: the time the next request may start. ARGV: seconds between starts. Returns the seconds to wait.
_PACE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local next_start = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.6f', next_start), 'PX', math.ceil((next_start - now) * 1000) + 1000)
return string.format('%.6f', start - now)
"""


class RedisLimiter:
    """Limits shared by every process that reaches the same Redis server.

    Slots are leases in a sorted set scored by expiry (the Redis documentation's counting-semaphore pattern).
    A holder that finds no slot joins a queue; a release hands its slot straight to the longest waiting holder
    and wakes it on a list of its own, so a freed slot is used at once, without a race among waiters.
    Requests per minute use one shared "next start" time, like :class:`Pacer`, so starts are spaced
    ``60 / rpm`` seconds apart over all processes. A thread in each process extends its leases every third of
    ``lease_seconds``, so a long call keeps its slot and a dead process's slots come back within
    ``lease_seconds``.
    """

    shared = True
    wake_timeout = 0.25  # a waiter also retries this often, for slots freed by expired leases

    def __init__(self, *, client, name: str, concurrency: int, rpm: int, lease_seconds: float):
        self.client = client
        self.name = name
        self.concurrency = max(1, concurrency)
        self.rpm = rpm
        self.lease_seconds = lease_seconds
        self.leases_key = f"{KEY_PREFIX}:{name}:leases"
        self.waiters_key = f"{KEY_PREFIX}:{name}:waiters"
        self.wake_prefix = f"{KEY_PREFIX}:{name}:wake:"
        self.pace_key = f"{KEY_PREFIX}:{name}:next-start"
        self._acquire = client.register_script(_ACQUIRE)
        self._release_script = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._pace = client.register_script(_PACE)
        self._holder_prefix = f"{socket.gethostname()}:{os.getpid()}"
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._renewer_pid = 0

    def _try_acquire(self, holder: str) -> bool:
        keys = [self.leases_key, self.waiters_key]
        return bool(int(self._acquire(keys=keys, args=[self.concurrency, self.lease_seconds, holder])))

    def _renew_forever(self) -> None:
        while True:
            time.sleep(self.lease_seconds / 3)
            with self._held_lock:
                holders = list(self._held)
            if holders:
                try:
                    self._renew(keys=[self.leases_key], args=[self.lease_seconds, *holders])
                except Exception:  # noqa: BLE001 — Redis away for a moment: the next round tries again
                    log.warning("jury limiter: could not extend %d leases of %s", len(holders), self.name)

    def _hold(self, holder: str) -> None:
        with self._held_lock:
            self._held.add(holder)
            if self._renewer is None or not self._renewer.is_alive() or self._renewer_pid != os.getpid():
                self._renewer_pid = os.getpid()
                self._renewer = threading.Thread(
                    target=self._renew_forever, name=f"jury-limit-{self.name}", daemon=True
                )
                self._renewer.start()

    def _release(self, holder: str) -> None:
        with self._held_lock:
            self._held.discard(holder)
        keys = [self.leases_key, self.waiters_key]
        self._release_script(keys=keys, args=[self.concurrency, self.lease_seconds, holder, self.wake_prefix])

    def in_flight(self) -> int:
        """Slots held now, over every process (leases not yet expired)."""
        return int(self.client.zcount(self.leases_key, f"({time.time()}", "+inf"))

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        holder = f"{self._holder_prefix}:{threading.get_ident()}:{uuid.uuid4().hex[:12]}"
        while not self._try_acquire(holder):
            if self.client.blpop([self.wake_prefix + holder], timeout=self.wake_timeout):
                break  # a release gave us its slot
        self._hold(holder)
        try:
            if self.rpm:
                delay = float(self._pace(keys=[self.pace_key], args=[60.0 / self.rpm]))
                if delay > 0:
                    time.sleep(delay)
            yield
        finally:
            self._release(holder)


_limiters: dict[tuple, LocalLimiter | RedisLimiter] = {}
_clients: dict[str, object] = {}
_lock = threading.Lock()


def _redis_client(url: str):
    if url not in _clients:
        import redis

        _clients[url] = redis.Redis.from_url(url, health_check_interval=30)
    return _clients[url]


def limiter_for(name: str, *, concurrency: int | None = None, rpm: int | None = None):
    """The limiter of provider ``name`` in this process (one per provider and limits; shared by threads).

    ``concurrency`` and ``rpm`` default to the provider's settings (``JURY_<PROVIDER>_CONCURRENCY``, ``_RPM``).
    """
    config = settings.JURY_PROVIDERS.get(name, {})
    concurrency = int(concurrency or config.get("concurrency", 4))
    rpm = int(config.get("rpm", 0) if rpm is None else rpm)
    url = settings.JURY_LIMITER_URL
    key = (name, concurrency, rpm, url)
    with _lock:
        if key not in _limiters:
            if url:
                _limiters[key] = RedisLimiter(
                    client=_redis_client(url),
                    name=name,
                    concurrency=concurrency,
                    rpm=rpm,
                    lease_seconds=settings.JURY_LIMITER_LEASE_SECONDS,
                )
            else:
                _limiters[key] = LocalLimiter(name=name, concurrency=concurrency, rpm=rpm)
        return _limiters[key]
