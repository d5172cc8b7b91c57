"""``Idempotency-Key`` on the API's POSTs: a retried request gets the first response and starts nothing new.

The key is stored per user with a fingerprint of the request (method, path, fields, and each uploaded file's
SHA-256, so a multipart retry with a new boundary still matches). The first request with a key reserves it before
doing anything; a retry while it is still being answered gets 409, a retry after gets the stored response (with
``Idempotent-Replayed: true``), and the same key sent with a different request gets 422 naming the header. Only
successful responses are kept: after a refusal (4xx) or a failure the key is free again, so the corrected request
may reuse it (as Stripe's API does).
"""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from api.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[!-~]{1,255}$"  # visible ASCII, no spaces

PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    pattern=KEY_PATTERN,
    description="Any string of 1–255 visible ASCII characters, new for each distinct request (a UUID will do). "
    "Sent again with the same request, the first response comes back and nothing new is started; sent with a "
    "different request, it is refused with 422.",
)


def _valid(key: str) -> bool:
    return 1 <= len(key) <= 255 and all("!" <= c <= "~" for c in key)


def fingerprint(request: Request) -> str:
    """SHA-256 of what the request asks: method, path, its fields, and the bytes of every uploaded file."""
    data = request.data  # a QueryDict of form fields and files, or parsed JSON
    fields = {key: [_value(v) for v in values] for key, values in data.lists()} if hasattr(data, "lists") else data
    payload = {"method": request.method, "path": request.path, "data": fields}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _value(value) -> object:
    if hasattr(value, "chunks"):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return {"file": value.name, "sha256": digest.hexdigest()}
    return value


def _problem(message: str, code: int) -> Response:
    return Response({HEADER: [message]}, status=code)


def respond_once(request: Request, handler: Callable[[], Response]) -> Response:
    """``handler()``'s response, or, for a key this user sent before with this request, the stored one."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not _valid(key):
        return _problem("must be 1–255 visible ASCII characters (no spaces)", status.HTTP_422_UNPROCESSABLE_ENTITY)
    user, digest = request.user, fingerprint(request)
    try:
        with transaction.atomic():
            reserved = IdempotentRequest.objects.create(
                user=user, key=key, method=request.method, path=request.path[:500], fingerprint=digest
            )
    except IntegrityError:
        return _replay(IdempotentRequest.objects.get(user=user, key=key), digest)
    try:
        response = handler()
    except BaseException:
        reserved.delete()
        raise
    if not 200 <= response.status_code < 300:
        reserved.delete()
        return response
    reserved.status_code = response.status_code
    reserved.body = json.loads(json.dumps(response.data, cls=JSONEncoder))
    reserved.location = response.headers.get("Location", "")
    reserved.save(update_fields=["status_code", "body", "location"])
    return response


def _replay(stored: IdempotentRequest, digest: str) -> Response:
    if stored.fingerprint != digest:
        return _problem(
            f"was already used for a different request ({stored.method} {stored.path}); use a new key for a new "
            "request",
            status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if stored.status_code is None:
        return _problem("a request with this key is still being answered; retry in a moment", status.HTTP_409_CONFLICT)
    headers = {"Idempotent-Replayed": "true"} | ({"Location": stored.location} if stored.location else {})
    return Response(stored.body, status=stored.status_code, headers=headers)
