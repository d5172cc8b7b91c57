"""Which metadata key of a chat line names the case, the model, the condition…, and how chat roles map to turns.

A mapping file is JSON or TOML (``docs/adapters.md``)::

    [fields]            # metadata key (dotted for nested objects) of each field
    case = "case_id"
    model = "meta.model"
    [roles]             # chat role -> patient, assistant or system (kept in the conversation's extra)
    human = "patient"
    [defaults]          # used when a line does not say
    condition = "full"
"""

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bundles.problems import BundleInvalid, Problem

FIELDS = {
    "id": "id",
    "case": "case",
    "model": "model",
    "condition": "condition",
    "title": "case_title",
    "diagnosis": "diagnosis",
    "tags": "tags",
    "model_name": "model_name",
    "family": "family",
    "provider": "provider",
}
ROLES = {"system": "system", "developer": "system", "user": "patient", "assistant": "assistant"}
ROLE_TARGETS = ("patient", "assistant", "system")
DEFAULTS = {
    "condition": "full",
    "family": "unknown",
    "provider": "",
    "image_source": "uploaded chat log",
    "image_license": "unspecified",
}
SECTIONS = {"fields", "roles", "defaults", "name", "description"}


@dataclass(frozen=True)
class ChatMapping:
    fields: dict[str, str] = field(default_factory=lambda: dict(FIELDS))
    roles: dict[str, str] = field(default_factory=lambda: dict(ROLES))
    defaults: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    name: str = ""
    description: str = ""


def load_mapping(*, path: Path | None = None, overrides: dict[str, str] | None = None) -> ChatMapping:
    """The mapping of ``path`` (JSON or TOML) with ``overrides`` (``field: metadata key``) on top."""
    raw: dict = {}
    label = path.name if path else "mapping"
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise BundleInvalid([Problem(label, None, "", f"cannot be read: {error}")]) from None
    problems = []
    if not isinstance(raw, dict):
        raise BundleInvalid([Problem(label, None, "", "must be an object with fields, roles and defaults")])
    for key in sorted(set(raw) - SECTIONS):
        problems.append(Problem(label, None, key, f"is not one of {', '.join(sorted(SECTIONS))}"))
    sections = {}
    for section, allowed in (("fields", FIELDS), ("roles", None), ("defaults", None)):
        value = raw.get(section, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            problems.append(Problem(label, None, section, "must be a table of strings"))
            value = {}
        for key in sorted(set(value) - set(allowed or value)):
            problems.append(Problem(label, None, f"{section}.{key}", f"is not one of {', '.join(allowed)}"))
        sections[section] = value
    for role, target in sections["roles"].items():
        if target not in ROLE_TARGETS:
            message = f"{target!r} is not one of {', '.join(ROLE_TARGETS)}"
            problems.append(Problem(label, None, f"roles.{role}", message))
    for key in sorted(set(overrides or {}) - set(FIELDS)):
        problems.append(Problem("options", None, key, f"is not one of {', '.join(FIELDS)}"))
    if problems:
        raise BundleInvalid(problems)
    return ChatMapping(
        fields=FIELDS | sections["fields"] | dict(overrides or {}),
        roles=ROLES | sections["roles"],
        defaults=DEFAULTS | sections["defaults"],
        name=str(raw.get("name", "")),
        description=str(raw.get("description", "")),
    )
