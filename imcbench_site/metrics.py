"""The site's Prometheus metrics: what every layer counts, and the queue depths read at scrape time.

This module imports only prometheus_client and the settings, so every app may count through it. With several
processes (gunicorn workers, Celery workers on the same machine) set ``PROMETHEUS_MULTIPROC_DIR`` to one empty
directory they all share: each process writes its counts there and ``/metrics`` sums them
(prometheus_client's multiprocess mode). Without it, ``/metrics`` shows the answering process's own counts.
"""

import os

import redis
from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

# Kombu's Redis transport keeps a queue's messages of priority 0 under the queue's name and the others under the
# name, this separator and the priority step (kombu.transport.redis: sep, PRIORITY_STEPS).
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

REQUEST_SECONDS = Histogram(
    "imcbench_request_seconds",
    "Time to answer a request, by view and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RESPONSES = Counter("imcbench_responses", "Responses by view, method and status.", ["view", "method", "status"])
CLAIMS = Counter("imcbench_claims", "Items handed to clinicians, by outcome (new, resumed, none left).", ["outcome"])
AUTOSAVES = Counter("imcbench_autosaves", "Draft saves of an annotation.")
SUBMISSIONS = Counter("imcbench_submissions", "Annotations submitted, first versions and revisions.", ["kind"])
PROVIDER_CALLS = Counter(
    "imcbench_provider_calls",
    "Provider calls of the jury and of conversation generation, by work, provider and outcome "
    "(ok; failed: a permanent error; gave_up: transient errors until the retries ran out).",
    ["work", "provider", "outcome"],
)


def routed_queues() -> list[str]:
    """The Celery queues the settings route work to, the default one included."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})


class QueueDepthCollector:
    """``imcbench_queue_depth{queue}``: messages waiting in each routed queue (Redis LLEN), read at scrape time."""

    def collect(self):
        depth = GaugeMetricFamily("imcbench_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"])
        up = GaugeMetricFamily("imcbench_broker_up", "1 when the broker answered the queue-depth read, else 0.")
        url = settings.CELERY_BROKER_URL or ""
        if url.startswith(("redis://", "rediss://")):
            try:
                client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
                with client.pipeline(transaction=False) as pipe:
                    queues = routed_queues()
                    for queue in queues:
                        for step in KOMBU_PRIORITY_STEPS:
                            pipe.llen(queue if step == 0 else f"{queue}{KOMBU_PRIORITY_SEPARATOR}{step}")
                    lengths = pipe.execute()
                steps = len(KOMBU_PRIORITY_STEPS)
                for index, queue in enumerate(queues):
                    depth.add_metric([queue], sum(lengths[index * steps : (index + 1) * steps]))
                up.add_metric([], 1)
            except redis.RedisError:
                up.add_metric([], 0)
        yield depth
        yield up


def exposition() -> bytes:
    """The text a scrape gets: every process's counts (multiprocess mode) or this one's, and the queue depths."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    output = generate_latest(registry)
    queues = CollectorRegistry()
    queues.register(QueueDepthCollector())
    return output + generate_latest(queues)
