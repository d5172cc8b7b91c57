"""The patient persona and the model-under-test system prompt, kept as versioned files like the judge prompts.

Each ``<key>@<version>.txt`` is a header of ``name: value`` lines (``key``, ``version``, ``role``: ``patient`` or
``model``), a line ``---``, then a Django template. The whole file is the prompt's content: its SHA-256 goes into
every generated conversation's provenance, and a changed file needs a new version (a run refuses a file whose text
differs from the one an earlier run used under the same ``key@version``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.template import Context

from engine.prompt_files import content_hash, split_prompt, template_engine

PROMPT_DIR = Path(__file__).resolve().parent
PATIENT_PROMPT = "patient@1"
MODEL_PROMPT = "model-under-test@1"
ROLES = ("patient", "model")


@dataclass(frozen=True)
class PromptFile:
    key: str
    version: str
    role: str
    text: str
    body: str

    @property
    def reference(self) -> str:
        return f"{self.key}@{self.version}"

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)

    def snapshot(self) -> dict:
        """What a run stores: the run renders from this text, whatever happens to the file later."""
        return {"reference": self.reference, "role": self.role, "sha256": self.content_hash, "text": self.text}


def parse(text: str, *, name: str = "prompt") -> PromptFile:
    """Split a prompt file into header and template; raise ValueError naming what is wrong."""
    header, _, body = split_prompt(text, name=name, required=("key", "version", "role"))
    if header["role"] not in ROLES:
        raise ValueError(f"{name}: role must be one of {', '.join(ROLES)}, not {header['role']!r}")
    return PromptFile(key=header["key"], version=header["version"], role=header["role"], text=text, body=body)


def load(reference: str, *, directory: Path = PROMPT_DIR) -> PromptFile:
    """The prompt file ``<key>@<version>.txt``; its header must agree with its name."""
    path = directory / f"{reference}.txt"
    if not path.is_file():
        raise ValueError(f"no prompt file {path.name} in {directory}")
    prompt = parse(path.read_text(encoding="utf-8"), name=path.name)
    if prompt.reference != reference:
        raise ValueError(f"{path.name}: its header says {prompt.reference}")
    return prompt


@functools.lru_cache(maxsize=32)
def _template(body: str):
    return template_engine.from_string(body)


def render(snapshot: dict, **context) -> str:
    """Render a stored prompt (a run's snapshot) with ``context``."""
    return _template(parse(snapshot["text"]).body).render(Context(context)).strip()
