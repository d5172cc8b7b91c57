"""Site-wide response policies: no caching of signed-in pages, and a plain 503 while the database cannot serve."""

import logging

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import DatabaseError, OperationalError
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

PRIVATE_NO_STORE = "private, no-store"
UNAVAILABLE_MESSAGE = (
    "IMCBench Studio cannot use its database right now (it is read-only or unavailable). "
    "Nothing was saved. Please try again in a few minutes; /readyz says what is wrong.\n"
)
READ_ONLY_WORDS = ("readonly", "read-only", "read only")


def database_unavailable(error: BaseException) -> bool:
    """A database error that says the database cannot serve (down, locked, read-only), not a bug in a query."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DatabaseError) and any(word in str(error).lower() for word in READ_ONLY_WORDS)


def unavailable_response(request: HttpRequest, error: BaseException) -> HttpResponse:
    log.error("database unavailable on %s %s: %s", request.method, request.path, error)
    response = HttpResponse(UNAVAILABLE_MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "60"
    response["Cache-Control"] = PRIVATE_NO_STORE
    return response


class DatabaseUnavailableMiddleware:
    """Answers 503 with a plain message when a view fails because the database cannot serve."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unavailable(exception):
            return unavailable_response(request, exception)
        return None


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, with the session save (after the view) answering 503 instead of 500 when the database cannot."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except Exception as error:
            cause = _database_cause(error)  # Django reports a failed update as "session interrupted"
            if cause is None:
                raise
            return unavailable_response(request, cause)


def _database_cause(error: BaseException | None) -> BaseException | None:
    for _ in range(10):  # a few links of the exception's chain are enough, and a cycle never loops
        if error is None or database_unavailable(error):
            return error
        error = error.__cause__ or error.__context__
    return None


class PrivateCacheMiddleware:
    """Responses to a signed-in user (session or API token) are never stored by browsers or proxies, unless the view
    chose its own Cache-Control (media images are cacheable privately)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control") and _signed_in(request):
            response["Cache-Control"] = PRIVATE_NO_STORE
        return response


def _signed_in(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    try:
        return user is not None and user.is_authenticated
    except DatabaseError:
        return True  # the session cannot be read: never let a cache keep the answer
