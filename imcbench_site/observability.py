"""Request ids, structured logs and request metrics.

Every request gets an id (the caller's ``X-Request-ID`` when it is a plain token, else a new one), sent back in the
response's ``X-Request-ID`` and put on every log record written while the request runs. One log line per request
says its method, path (never the query string: a search may hold words a researcher typed), view, status,
duration and user id. Logs never carry patient content: no profile, transcript, rationale or request body is
logged anywhere, and records' ``request`` objects (Django attaches them to its error records) are dropped.
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished, request_started
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter

from imcbench_site import metrics

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
QUIET_VIEWS = {"healthz", "readyz", "metrics"}  # probes and scrapes: every few seconds, logged at DEBUG only

log = logging.getLogger("imcbench.request")


def request_id_from(header: str) -> str:
    """The caller's id when it is 8–128 characters of letters, digits and ``._:-``; a new one otherwise."""
    return header if SANE_REQUEST_ID.fullmatch(header) else uuid.uuid4().hex


def _request_started(sender, environ=None, scope=None, **kwargs) -> None:
    if environ is not None:
        header = environ.get("HTTP_X_REQUEST_ID", "")
    else:
        header = dict((scope or {}).get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
    REQUEST_ID.set(request_id_from(header))


def _request_finished(sender, **kwargs) -> None:
    REQUEST_ID.set(None)


# The id is set when the handler starts and cleared when the response is closed, not by the middleware alone:
# Django logs a 4xx or 5xx answer (django.request) after every middleware has returned.
request_started.connect(_request_started, dispatch_uid="imcbench-request-id")
request_finished.connect(_request_finished, dispatch_uid="imcbench-request-id")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``-`` outside a request), and drops request objects."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        if hasattr(record, "request"):
            del record.request
        return True


class JsonLogFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, request_id and any ``extra`` fields."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")  # ISO 8601 in UTC, with milliseconds
        super().__init__(*args, **kwargs)


class RequestObservabilityMiddleware:
    """First in the stack: the request id, the request's log line and its latency in the metrics."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = REQUEST_ID.get()
        if request_id is None:
            request_id = request_id_from(request.headers.get("X-Request-ID", ""))
            REQUEST_ID.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "<unresolved>"
        metrics.REQUEST_SECONDS.labels(view=view, method=request.method).observe(seconds)
        metrics.RESPONSES.labels(view=view, method=request.method, status=str(response.status_code)).inc()
        log.log(
            logging.DEBUG if view in QUIET_VIEWS else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "view": view,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "user_id": _user_id(request),
            },
        )
        response["X-Request-ID"] = request_id
        return response


def _user_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    try:
        return user.pk if user is not None and user.is_authenticated else None
    except DatabaseError:
        return None  # the session could not be read; the response already says so
