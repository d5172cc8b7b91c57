"""Judge prompt templates, kept as files under version control and loaded into the database with their hash.

Each ``<key>@<version>.txt`` file is a header of ``name: value`` lines (``key``, ``version``, ``dimension``,
``style``, and any number of ``check`` lines), a line ``---``, then a Django template rendered with
``dimension`` (key, name, description), ``anchors_text``, ``profile_text``, ``transcript_text``, ``image_count``,
``condition_note`` and ``checks``. The whole file is the prompt's content: its SHA-256 is the content hash, and a
changed file needs a new version.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from django.template import Context

from annotation.profile_text import format_profile
from engine.prompt_files import content_hash, split_prompt, template_engine

PROMPT_DIR = Path(__file__).resolve().parent
SYSTEM = (
    "You are an expert clinical evaluator for a medical AI benchmark. Judge only what you are asked to judge, "
    "and reply exactly in the format requested."
)
CONDITION_NOTES = {
    "no_image": "Note: in this conversation the assistant was NOT shown the patient's images.",
    "no_ehr": "Note: in this conversation the assistant was NOT shown the patient record.",
}


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


def parse_prompt(text: str, *, path: str = "") -> PromptSource:
    """Split a prompt file into its header and template; raise ValueError naming what is missing."""
    header, lists, body = split_prompt(
        text, name=path or "prompt", required=("key", "version", "dimension"), repeated=("check",)
    )
    checks = lists["check"]
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
    return source, template_engine.from_string(source.body)
