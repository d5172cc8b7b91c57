"""The one small interface every judge provider implements, and the scoring contract its replies must meet.

A provider turns a :class:`ProviderRequest` (system text, messages with text and images, model, parameters) into a
:class:`ProviderReply` (text, token usage, request id, latency) or raises :class:`ProviderError`, which says whether
the error is transient (429, 5xx, timeouts, resets: retry with backoff, honouring ``Retry-After``) or permanent
(400, 401, 403: fail fast). Providers never retry by themselves; the runner does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Protocol

SCORE_MIN, SCORE_MAX = 1, 5


@dataclass(frozen=True)
class ImagePart:
    media_type: str
    data: bytes = field(repr=False)
    sha256: str = ""

    @classmethod
    def of(cls, *, data: bytes, media_type: str) -> ImagePart:
        return cls(media_type=media_type, data=data, sha256=hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    text: str
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True)
class ProviderRequest:
    model: str
    system: str
    messages: tuple[Message, ...]
    parameters: dict = field(default_factory=dict)
    # Not sent to real providers: what the simulated provider reads (hidden demo quality, conversation key, …).
    hints: dict = field(default_factory=dict)

    def canonical(self, *, provider: str, sample_index: int = 0, salt: str = "") -> dict:
        """Everything that determines the reply, images by their hash; the cache key is its SHA-256.

        ``salt`` (used when failed items are retried) asks for a fresh reply to an otherwise identical request.
        """
        canonical = {
            "provider": provider,
            "model": self.model,
            "parameters": self.parameters,
            "system": self.system,
            "messages": [
                {"role": m.role, "text": m.text, "images": [[i.media_type, i.sha256] for i in m.images]}
                for m in self.messages
            ],
            "sample": sample_index,
            "hints": self.hints if provider == "simulated" else {},
        }
        if salt:
            canonical["salt"] = salt
        return canonical

    def cache_key(self, *, provider: str, sample_index: int = 0, salt: str = "") -> str:
        canonical = self.canonical(provider=provider, sample_index=sample_index, salt=salt)
        blob = json.dumps(canonical, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class ProviderReply:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    request_id: str = ""
    latency_ms: int = 0


class ProviderError(Exception):
    """A call that failed. ``transient`` errors are retried with backoff; the others fail the item at once."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class Provider(Protocol):
    name: str

    def complete(self, request: ProviderRequest) -> ProviderReply: ...


TRANSIENT_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def parse_retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None when absent."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def status_error(*, provider: str, status: int, message: str, headers=None) -> ProviderError:
    transient = status in TRANSIENT_STATUSES or status >= 500
    hint = {401: "check the API key", 403: "the key may not use this model", 400: "the request was refused"}
    text = f"{provider} answered HTTP {status}: {redact(message)[:300]}"
    if not transient and status in hint:
        text += f" ({hint[status]})"
    return ProviderError(text, transient=transient, status=status, retry_after=parse_retry_after(headers))


_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6})[A-Za-z0-9_\-]+|\b(AKIA[A-Z0-9]{4})[A-Z0-9]+")


def redact(text: str) -> str:
    """Shorten anything that looks like an API key to its first characters."""
    return _KEYLIKE.sub(lambda m: (m.group(1) or m.group(2)) + "…", str(text))


def mask_key(key: str | None) -> str:
    if not key:
        return "not set"
    return f"{key[:4]}…{key[-2:]}" if len(key) > 10 else "set"


# ------------------------------------------------------------------------------------------ scoring contract


class ReplyError(ValueError):
    """A reply that does not meet the scoring contract. Never defaulted: stored as a failure and re-asked."""


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _json_objects(text: str):
    """Top-level JSON objects in ``text``, in order: those inside code fences if any, else those in the prose."""
    decoder = json.JSONDecoder()
    fenced = [m.group(1) for m in _FENCE.finditer(text)]
    for candidate in fenced or [text]:
        index = candidate.find("{")
        while index != -1:
            try:
                value, end = decoder.raw_decode(candidate, index)
            except json.JSONDecodeError:
                index = candidate.find("{", index + 1)
                continue
            if isinstance(value, dict):
                yield value
            index = candidate.find("{", end)


def parse_reply(text: str) -> tuple[int, str]:
    """The ``(score, rationale)`` of a judge's reply ``{"score": <1-5>, "rationale": "..."}``.

    The object may sit inside code fences or after prose. The score must be an integer from 1 to 5 (``4`` or
    ``"4"`` or ``4.0``); anything else raises :class:`ReplyError` — there is no default.
    """
    if not text or not text.strip():
        raise ReplyError("empty reply")
    found = [obj for obj in _json_objects(text) if "score" in obj]
    if not found:
        raise ReplyError("no JSON object with a score in the reply")
    obj = found[-1]  # critique-then-score replies may quote examples first; the final object is the answer
    raw = obj["score"]
    if isinstance(raw, bool):
        raise ReplyError(f"score {raw!r} is not a number")
    if isinstance(raw, str):
        raw = raw.strip()
        if not re.fullmatch(r"-?\d+(\.0+)?", raw):
            raise ReplyError(f"score {raw!r} is not a whole number")
        raw = float(raw)
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ReplyError(f"score {raw!r} is not a whole number")
        raw = int(raw)
    if not isinstance(raw, int):
        raise ReplyError(f"score {raw!r} is not a number")
    if not SCORE_MIN <= raw <= SCORE_MAX:
        raise ReplyError(f"score {raw} is outside {SCORE_MIN}–{SCORE_MAX}")
    rationale = obj.get("rationale", "")
    if not isinstance(rationale, str):
        rationale = json.dumps(rationale)
    return raw, rationale.strip()
