"""Versioned prompt files, as the jury's judge prompts and generation's patient and model prompts keep them.

A file ``<key>@<version>.txt`` is a header of ``name: value`` lines, a line ``---``, then a Django template. The
whole file is the prompt's content: its SHA-256 is the content hash, and a changed file needs a new version.
"""

import hashlib

from django.template import Engine

template_engine = Engine(autoescape=False, debug=False)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_prompt(
    text: str, *, name: str, required: tuple[str, ...], repeated: tuple[str, ...] = ()
) -> tuple[dict[str, str], dict[str, list[str]], str]:
    """The header's single fields, its ``repeated`` fields (every value, in order) and the template body.

    Raises ``ValueError`` naming the file (and line) for a missing ``---``, a header line without a colon, a
    ``required`` field that is missing or empty, or a template that does not compile.
    """
    head, separator, body = text.partition("\n---\n")
    if not separator:
        raise ValueError(f"{name}: no '---' line between the header and the template")
    header: dict[str, str] = {}
    lists: dict[str, list[str]] = {label: [] for label in repeated}
    for number, line in enumerate(head.splitlines(), start=1):
        if not line.strip():
            continue
        label, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{name}:{number}: expected 'name: value'")
        if label.strip() in lists:
            lists[label.strip()].append(value.strip())
        else:
            header[label.strip()] = value.strip()
    missing = [label for label in required if not header.get(label)]
    if missing:
        raise ValueError(f"{name}: the header has no {', '.join(missing)}")
    template_engine.from_string(body)  # a template error surfaces when the file is loaded, not mid-run
    return header, lists, body
