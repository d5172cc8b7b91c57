"""Scores as forms post them (``score-<dimension>`` fields), parsed the same way by the workspace and adjudication.

Only the ASCII digits of the score range are scores: ``int()`` and ``str.isdigit`` also accept padded text
(``" 3"``) and other scripts' digits (``"٣"``, ``"３"``), which no radio button of ours ever sends.
"""

import re
from collections.abc import Iterable, Mapping

from annotation.models import SCORE_MAX, SCORE_MIN
from annotation.services import AnnotationError

assert 0 <= SCORE_MIN <= SCORE_MAX <= 9, "the score pattern below matches one digit"
SCORE_PATTERN = re.compile(f"[{SCORE_MIN}-{SCORE_MAX}]")
TURN_PATTERN = re.compile("[1-9][0-9]{0,3}")  # a transcript's turn number, as the flag selects post it


class InvalidScore(AnnotationError):
    """A posted score that is not one of the rubric's scores; ``field`` is the form field's name."""

    def __init__(self, *, field: str, label: str, raw: str):
        self.field = field
        named = f"{label} ({field})" if label else field
        super().__init__(f"{named}: {raw!r} is not a whole score from {SCORE_MIN} to {SCORE_MAX}")


def parse_score(raw: str, *, field: str, label: str = "") -> int:
    if not SCORE_PATTERN.fullmatch(raw):
        raise InvalidScore(field=field, label=label, raw=raw)
    return int(raw)


def parse_turn(raw: str) -> int:
    """A flag's turn number: ASCII digits only, like a score, never ``int()``'s padded or other-script digits."""
    if not TURN_PATTERN.fullmatch(raw):
        raise AnnotationError(f"a flag's turn {raw!r} is not a turn number")
    return int(raw)


def scores_from(posted: Mapping[str, str], dimensions: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Scores by dimension key from ``score-<key>`` fields; ``dimensions`` are (key, name). Empty fields are
    unscored (a draft may leave them, submission and adjudication refuse them); anything else must be a score."""
    scores = {}
    for key, name in dimensions:
        raw = posted.get(f"score-{key}", "")
        if raw != "":
            scores[key] = parse_score(raw, field=f"score-{key}", label=name)
    return scores


def posted_version(posted: Mapping[str, str]) -> int:
    """The version a form says its page last saw (0 for none); -1, which matches no version, for anything else."""
    try:
        return int(posted.get("version") or 0)
    except ValueError:
        return -1
