"""Judge prompt templates, kept as files under version control and loaded into the database with their hash.

Each ``<key>@<version>.txt`` file is a header of ``name: value`` lines (``key``, ``version``, ``dimension``,
``style``, and any number of ``check`` lines), a line ``---``, then a Django template rendered with
``dimension`` (key, name, description), ``anchors_text``, ``profile_text``, ``transcript_text``, ``image_count``,
``condition_note`` and ``checks``. The whole file is the prompt's content: its SHA-256 is the content hash, and a
changed file needs a new version.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.template import Context, Engine

PROMPT_DIR = Path(__file__).resolve().parent
SYSTEM = (
    "You are an expert clinical evaluator for a medical AI benchmark. Judge only what you are asked to judge, "
    "and reply exactly in the format requested."
)
CONDITION_NOTES = {
    "no_image": "Note: in this conversation the assistant was NOT shown the patient's images.",
    "no_ehr": "Note: in this conversation the assistant was NOT shown the patient record.",
}
_engine = Engine(autoescape=False, debug=False)


@dataclass(frozen=True)
class PromptSource:
    key: str
    version: str
    dimension: str
    style: str
    text: str
    body: str
    checks: tuple[str, ...] = field(default=())
    path: str = ""

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_prompt(text: str, *, path: str = "") -> PromptSource:
    """Split a prompt file into its header and template; raise ValueError naming what is missing."""
    head, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"{path or 'prompt'}: no '---' line between the header and the template")
    header: dict[str, str] = {}
    checks: list[str] = []
    for number, line in enumerate(head.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{path}:{number}: expected 'name: value'")
        if name.strip() == "check":
            checks.append(value.strip())
        else:
            header[name.strip()] = value.strip()
    for required in ("key", "version", "dimension"):
        if not header.get(required):
            raise ValueError(f"{path or 'prompt'}: header has no {required}")
    _engine.from_string(body)  # syntax errors surface at load time, not mid-run
    return PromptSource(
        key=header["key"],
        version=header["version"],
        dimension=header["dimension"],
        style=header.get("style", ""),
        text=text,
        body=body,
        checks=tuple(checks),
        path=path,
    )


def prompt_files(directory: Path = PROMPT_DIR) -> list[PromptSource]:
    sources = []
    for path in sorted(directory.glob("*.txt")):
        source = parse_prompt(path.read_text(encoding="utf-8"), path=str(path.relative_to(directory.parent.parent)))
        if path.stem != f"{source.key}@{source.version}":
            raise ValueError(f"{path.name}: file name must be {source.key}@{source.version}.txt")
        sources.append(source)
    return sources


def format_profile(summary: dict | None) -> str:
    if not summary:
        return "(no patient record)"
    lines = []
    if summary.get("age") is not None or summary.get("sex"):
        lines.append(f"- Age {summary.get('age', 'unknown')}, sex {summary.get('sex') or 'unknown'}")
    for label, name in (("Conditions", "conditions"), ("Medications", "medications"), ("Allergies", "allergies")):
        values = summary.get(name) or []
        lines.append(f"- {label}: {', '.join(_item(v) for v in values) if values else 'none recorded'}")
    observations = summary.get("observations") or []
    if observations:
        lines.append("- Observations: " + "; ".join(_item(v) for v in observations))
    return "\n".join(lines)


def _item(value) -> str:
    if isinstance(value, dict):
        parts = [str(value.get(k)) for k in ("name", "display", "text", "value", "unit", "date") if value.get(k)]
        return " ".join(parts) if parts else ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def format_transcript(turns) -> str:
    return "\n\n".join(f"[{turn.index + 1}] {turn.role.upper()}: {turn.content}" for turn in turns)


def format_anchors(anchors: dict[int, str]) -> str:
    return "\n".join(f"{score} — {text}" for score, text in sorted(anchors.items()))


def render(
    template: str,
    *,
    dimension: dict,
    anchors: dict[int, str],
    profile: dict | None,
    turns,
    condition: str,
    image_count: int,
) -> str:
    """The user message of one judge call."""
    source, compiled = _compiled(template)
    context = {
        "dimension": dimension,
        "anchors_text": format_anchors(anchors),
        "profile_text": format_profile(profile),
        "transcript_text": format_transcript(turns),
        "image_count": image_count,
        "condition": condition,
        "condition_note": CONDITION_NOTES.get(condition, ""),
        "checks": source.checks,
    }
    return compiled.render(Context(context)).strip() + "\n"


@functools.lru_cache(maxsize=128)
def _compiled(template: str):
    source = parse_prompt(template)
    return source, _engine.from_string(source.body)
