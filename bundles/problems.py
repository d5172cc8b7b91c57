"""Problems found in a bundle, each reported as ``file:line: field: message``, and the collector that caps them.

``Fields`` gives typed access to one record's fields and logs every failure with its file, line and field path.
"""

import hashlib
import json
from dataclasses import dataclass

from annotation.models import SCORE_MAX, SCORE_MIN, bundle_key


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class BundleInvalid(Exception):
    """The bundle was rejected; nothing was changed. ``problems`` lists every problem found (up to a cap)."""

    def __init__(self, problems: list[Problem], *, truncated: bool = False):
        self.problems = problems
        self.truncated = truncated
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [str(problem) for problem in self.problems]
        if self.truncated:
            lines.append(f"(stopped after {len(self.problems)} problems; fix these and import again)")
        return "\n".join(lines)


class TooManyProblems(Exception):
    pass


class ProblemLog:
    def __init__(self, cap: int):
        self.cap = cap
        self.problems: list[Problem] = []

    def add(self, file: str, line: int | None, field_path: str, message: str) -> None:
        self.problems.append(Problem(file, line, field_path, message))
        if len(self.problems) >= self.cap:
            raise TooManyProblems

    def __bool__(self) -> bool:
        return bool(self.problems)


class Fields:
    """Typed access to one record's fields; every failure is logged with file, line and field path."""

    def __init__(self, record: dict, *, log: ProblemLog, file: str, line: int | None, prefix: str = ""):
        self.record, self.log, self.file, self.line, self.prefix = record, log, file, line, prefix

    def problem(self, key: str, message: str) -> None:
        self.log.add(self.file, self.line, f"{self.prefix}{key}", message)

    def nested(self, record: dict, prefix: str) -> "Fields":
        return Fields(record, log=self.log, file=self.file, line=self.line, prefix=f"{self.prefix}{prefix}")

    def objects(self, key: str, *, each: str = "an object"):
        """``(index, Fields)`` for every object of the non-empty list ``key``; anything else is a problem."""
        items = self.record.get(key)
        if not isinstance(items, list) or not items:
            self.problem(key, "must be a non-empty list")
            return
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, self.nested(item, f"{key}[{index}].")
            else:
                self.problem(f"{key}[{index}]", f"must be {each}")

    def text(
        self, key: str, *, required: bool = True, blank: bool = False, max_length: int | None = None
    ) -> str | None:
        value = self.record.get(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return None if required else ""
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {type(value).__name__}")
            return None
        if not blank and not value.strip():
            self.problem(key, "must not be empty")
            return None
        if max_length is not None and len(value) > max_length:
            self.problem(key, f"is {len(value):,} characters long; the limit is {max_length:,}")
            return None
        return value

    def key(self, key: str, *, max_length: int | None = None) -> str | None:
        value = self.text(key)
        if value is not None and not is_key(value):
            self.problem(key, f"{shown(value)} is not a valid id ({bundle_key.message})")
            return None
        if value is not None and max_length is not None and len(value) > max_length:
            self.problem(key, f"{shown(value)} is {len(value)} characters long; the limit is {max_length}")
            return None
        return value

    def flag(self, key: str) -> bool | None:
        value = self.record.get(key, False)
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, not {shown(value)}")
            return None
        return value

    def score(self, key: str, value: object) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
            self.problem(key, f"{shown(value)} is outside the scale {SCORE_MIN}–{SCORE_MAX} (whole numbers)")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(key)
        if value is not None and value not in choices:
            self.problem(key, f"{shown(value)} is not one of {', '.join(choices)}")
            return None
        return value

    def extra(self, known: set[str]) -> dict:
        return {key: value for key, value in self.record.items() if key not in known}


def is_key(value: str) -> bool:
    """A bundle id, matched in full: ``$`` in the model's pattern would also accept a trailing newline."""
    return bundle_key.regex.fullmatch(value) is not None


def shown(value: object, limit: int = 80) -> str:
    """``repr`` of a value for a message, cut short so one huge field cannot flood the report."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: object) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
