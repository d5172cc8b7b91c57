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

import atexit
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

    def __init__(self, *, name: str, concurrency: int, rpm: int):
        self.name = name
        self.concurrency = max(1, concurrency)
        self.rpm = rpm
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._pacer = Pacer(rpm)

    def give_back_idle(self) -> None:
        """Nothing to give back: the limits are this process's own."""

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            self._pacer.wait()
            yield


# KEYS: the leases (a sorted set: holder -> when its lease ends). ARGV: limit, lease seconds, then the holders
# that want a lease. Grants as many as the limit leaves room for, in order; returns how many.
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local room = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local granted = 0
for i = 3, #ARGV do
  if granted >= room then
    break
  end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[i])
  granted = granted + 1
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 2000))
return granted
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

# KEYS[1]: the processes that want slots (member -> when it last said so). ARGV: this process, how long a
# process counts as active without saying so again. Returns how many processes are active.
_HEARTBEAT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 2000))
return redis.call('ZCARD', KEYS[1])
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

    The limit is a set of leases in a Redis sorted set scored by expiry (the counting-semaphore pattern of the
    Redis documentation), taken by a Lua script that never grants more than ``concurrency``. A process takes
    leases in bulk and hands them among its own threads through a local semaphore, so a call costs no Redis
    round trip while the process keeps its share. Each process that wants slots says so every ``tick``
    seconds; its share is ``ceil(concurrency / active processes)``: it takes leases up to its share while its
    threads wait, gives back leases above its share as they fall idle, and gives back all of them once it has
    had nothing to do for ``idle_seconds``. The leases are extended every third of ``lease_seconds``, so a
    dead process's slots come back within ``lease_seconds``. Requests per minute use one shared "next start"
    time, like :class:`Pacer`, so starts are spaced ``60 / rpm`` seconds apart over all processes.
    """

    tick = 0.02
    idle_seconds = 1.0

    def __init__(self, *, client, name: str, concurrency: int, rpm: int, lease_seconds: float):
        self.client = client
        self.name = name
        self.concurrency = max(1, concurrency)
        self.rpm = rpm
        self.lease_seconds = lease_seconds
        self.leases_key = f"{KEY_PREFIX}:{name}:leases"
        self.processes_key = f"{KEY_PREFIX}:{name}:processes"
        self.pace_key = f"{KEY_PREFIX}:{name}:next-start"
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._pace = client.register_script(_PACE)
        self._process = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._cond = threading.Condition()
        self._leases: list[str] = []  # held by this process
        self._idle: list[str] = []  # held and not in use
        self._waiting = 0
        self._share = self.concurrency
        self._last_busy = time.monotonic()
        self._worker: threading.Thread | None = None
        self._worker_pid = 0
        atexit.register(self._give_back_at_exit)

    def _give_back_at_exit(self) -> None:
        with contextlib.suppress(Exception):  # Redis gone: the leases expire on their own
            self.give_back_idle()

    # -- Redis (called without the lock held)
    def _take(self, count: int) -> list[str]:
        holders = [f"{self._process}:{uuid.uuid4().hex[:12]}" for _ in range(count)]
        granted = int(self._acquire(keys=[self.leases_key], args=[self.concurrency, self.lease_seconds, *holders]))
        return holders[:granted]

    def _give_back(self, holders: list[str]) -> None:
        if holders:
            self.client.zrem(self.leases_key, *holders)

    def give_back_idle(self) -> None:
        """Give every lease no thread is using back now (a run ended; the process may exit)."""
        with self._cond:
            idle = list(self._idle)
            self._idle.clear()
            for holder in idle:
                self._leases.remove(holder)
            done = not self._leases and not self._waiting
        self._give_back(idle)
        if done:  # no longer counts towards the other processes' shares
            self.client.zrem(self.processes_key, self._process)

    def _update_share(self) -> None:
        """Say this process wants slots; its share is the limit divided among the processes that do (rounded up)."""
        active = int(self._heartbeat(keys=[self.processes_key], args=[self._process, self.idle_seconds * 2]))
        self._share = -(-self.concurrency // max(1, active))

    def in_flight(self) -> int:
        """Slots leased now, over every process (leases not yet expired)."""
        return int(self.client.zcount(self.leases_key, f"({time.time()}", "+inf"))

    # -- this process's share
    def _balance(self) -> None:
        """Take leases up to the share while threads wait; give back idle ones above the share."""
        with self._cond:
            wanted = min(self._waiting, self._share - len(self._leases))
            surplus = self._idle[: max(0, len(self._leases) - self._share)]
            if time.monotonic() - self._last_busy > self.idle_seconds and len(self._idle) == len(self._leases):
                surplus = list(self._idle)
            for holder in surplus:
                self._idle.remove(holder)
                self._leases.remove(holder)
        self._give_back(surplus)
        if wanted > 0:
            taken = self._take(wanted)
            if taken:
                with self._cond:
                    self._leases.extend(taken)
                    self._idle.extend(taken)
                    self._cond.notify(len(taken))

    def _run(self) -> None:
        renewed = time.monotonic()
        while True:
            time.sleep(self.tick)
            try:
                with self._cond:
                    active = self._waiting or len(self._idle) < len(self._leases)
                    if active:
                        self._last_busy = time.monotonic()
                    holding = bool(self._leases)
                if active or holding:
                    self._update_share()
                self._balance()
                if time.monotonic() - renewed > self.lease_seconds / 3:
                    renewed = time.monotonic()
                    with self._cond:
                        holders = list(self._leases)
                    if holders:
                        self._renew(keys=[self.leases_key], args=[self.lease_seconds, *holders])
            except Exception:  # noqa: BLE001 — Redis away for a moment: the next round tries again
                log.warning("jury limiter %s: could not reach Redis; retrying", self.name, exc_info=True)

    def _start(self) -> None:
        if self._worker is None or not self._worker.is_alive() or self._worker_pid != os.getpid():
            self._worker_pid = os.getpid()
            self._worker = threading.Thread(target=self._run, name=f"jury-limit-{self.name}", daemon=True)
            self._worker.start()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            self._start()
            self._waiting += 1
            asked = False
            while not self._idle:
                if not asked and len(self._leases) < self._share:
                    asked = True  # take one at once rather than at the next tick
                    self._cond.release()
                    try:
                        self._update_share()
                        taken = self._take(1)
                    finally:
                        self._cond.acquire()
                    self._leases.extend(taken)
                    self._idle.extend(taken)
                    continue
                self._cond.wait(self.tick)
            self._waiting -= 1
            holder = self._idle.pop()
        try:
            if self.rpm:
                delay = float(self._pace(keys=[self.pace_key], args=[60.0 / self.rpm]))
                if delay > 0:
                    time.sleep(delay)
            yield
        finally:
            surplus = []
            with self._cond:
                self._last_busy = time.monotonic()
                if holder in self._leases:
                    if len(self._leases) > self._share:  # another process now wants its share
                        self._leases.remove(holder)
                        surplus.append(holder)
                    else:
                        self._idle.append(holder)
                        self._cond.notify()
            self._give_back(surplus)


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
