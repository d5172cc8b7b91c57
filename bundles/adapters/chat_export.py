"""The conversations written back out in the OpenAI chat format that ``import_bundle --from openai-chat`` reads.

One line per conversation: ``id``, ``case``, ``model``, ``condition``, the case's title, diagnosis and tags, the
model's name, family and provider, ``metadata`` (what the chat import kept), and ``messages``: system prompts
first, then each turn (patient → ``user``) with its images as data URLs. Importing the file again changes nothing.
"""

import base64
import json
from collections import defaultdict
from pathlib import Path

from annotation.models import AuditEvent, Conversation, Image, Turn
from bundles.adapters.chat import IMAGE_ONLY

ROLE_NAMES = {"patient": "user", "assistant": "assistant"}
MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "TIFF": "image/tiff", "DICOM": "application/dicom"}


def _data_urls(checksums: set[str]) -> dict[str, str]:
    urls = {}
    for image in Image.objects.filter(checksum__in=checksums).order_by("pk"):
        if image.checksum not in urls:
            encoded = base64.b64encode(Path(image.original.path).read_bytes()).decode()
            urls[image.checksum] = f"data:{MIME_TYPES[image.original_format]};base64,{encoded}"
    return urls


def _message(turn: dict, urls: dict[str, str]) -> dict:
    extra = dict(turn["extra"])
    images = extra.pop("images", [])
    content: str | list = turn["content"]
    if images:
        text = [] if content == IMAGE_ONLY else [{"type": "text", "text": content}]
        content = text + [{"type": "image_url", "image_url": {"url": urls[checksum]}} for checksum in images]
    return {"role": ROLE_NAMES[turn["role"]], "content": content, **extra}


def chat_lines():
    """Every conversation as one OpenAI-format chat line (a dict), ordered by id."""
    turns = defaultdict(list)
    for turn in Turn.objects.order_by("conversation_id", "index").values("conversation_id", "role", "content", "extra"):
        turns[turn["conversation_id"]].append(turn)
    checksums = {c for ts in turns.values() for t in ts for c in t["extra"].get("images", [])}
    urls = _data_urls(checksums)
    for conversation in Conversation.objects.select_related("case", "model").order_by("key"):
        extra = dict(conversation.extra)
        system = [{"role": "system", "content": text} for text in extra.pop("system_prompts", [])]
        metadata = extra.pop("metadata", {}) | extra
        case, model = conversation.case, conversation.model
        yield {
            "id": conversation.key,
            "case": case.key,
            "case_title": case.title,
            "diagnosis": case.diagnosis,
            "tags": case.tags,
            "model": model.key,
            "model_name": model.name,
            "family": model.family,
            "provider": model.provider,
            "condition": conversation.condition,
            **({"metadata": metadata} if metadata else {}),
            "messages": system + [_message(turn, urls) for turn in turns[conversation.pk]],
        }


def export_chat(*, out: Path, actor=None) -> int:
    """Write every conversation to ``out`` (JSON Lines), never overwriting; return how many lines."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out.open("x", encoding="utf-8") as handle:
        for line in chat_lines():
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    AuditEvent.objects.create(actor=actor, action="export_chat", target=str(out), details={"conversations": count})
    return count
