"""Operators' endpoints: liveness, readiness and the Prometheus scrape.

- ``/healthz``: the process answers (no database, no broker), for a liveness probe that restarts a stuck process.
- ``/readyz``: the database (a read and a rolled-back write), the broker and the Celery workers (one ping, a short
  timeout); 503 naming the failing part, for a load balancer that sends traffic only to a ready site.
- ``/metrics``: Prometheus text, only with ``Authorization: Bearer $METRICS_TOKEN``; 404 when no token is set.
"""

import hmac

from django.conf import settings
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST

from imcbench_site import metrics
from imcbench_site.celery import app as celery_app

PING_SECONDS = 1.0


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _try_a_write() -> None:
    """Rewrite one row as it is, then roll back: fails when the database is read-only."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE django_migrations SET app = app WHERE id = (SELECT MIN(id) FROM django_migrations)")
        transaction.set_rollback(True)


def database_check() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 — any failure is reported, not raised
        return {"ok": False, "error": str(error)[:200]}
    try:
        _try_a_write()
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "vendor": connection.vendor, "writable": False, "error": str(error)[:200]}
    return {"ok": True, "vendor": connection.vendor}


def broker_check() -> dict:
    if not settings.CELERY_BROKER_URL:
        return {"ok": True, "mode": "eager (tasks run in-process)"}
    broker = Connection(settings.CELERY_BROKER_URL, connect_timeout=2)
    try:
        broker.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "mode": "broker", "transport": broker.transport.driver_name}
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "mode": "broker", "error": str(error)[:200]}
    finally:
        broker.release()


def workers_check() -> dict:
    """Which workers answer a ping within PING_SECONDS, and which routed queues none of them consumes."""
    if not settings.CELERY_BROKER_URL:
        return {"ok": True, "mode": "eager (tasks run in-process)"}
    try:
        replies = celery_app.control.inspect(timeout=PING_SECONDS).active_queues() or {}
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "error": f"the ping could not be sent: {str(error)[:200]}"}
    if not replies:
        return {"ok": False, "error": f"no Celery worker answered a ping within {PING_SECONDS:g} s"}
    consumed = {queue["name"] for queues in replies.values() for queue in queues or []}
    return {
        "ok": True,
        "workers": sorted(replies),
        "queues_without_worker": [queue for queue in metrics.routed_queues() if queue not in consumed],
    }


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_check(), "broker": broker_check()}
    checks["workers"] = workers_check() if checks["broker"]["ok"] else {"ok": False, "error": "the broker is down"}
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "ready" if not failing else "not ready", "failing": failing, **checks}
    return JsonResponse(body, status=503 if failing else 200)


@require_GET
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN to turn them on.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        response = HttpResponse("A bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
