"""Writing the database as a benchmark bundle (format: ``docs/bundle-format.md``, version 1); never overwrites."""

import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from annotation.models import (
    SCORE_MAX,
    SCORE_MIN,
    Annotation,
    AuditEvent,
    Case,
    Conversation,
    ModelUnderTest,
    Rubric,
    Turn,
)
from bundles.parsing import ANNOTATIONS, CASES, CONVERSATIONS, FORMAT_NAME, FORMAT_VERSION, JUDGEMENTS
from bundles.problems import canonical_json
from jury.models import Judgement


@dataclass
class ExportReport:
    path: Path
    counts: dict[str, int]


def _jsonl(records) -> bytes:
    return "".join(canonical_json(record) + "\n" for record in records).encode()


def bundle_files(*, name: str, description: str = "") -> "list[tuple[str, bytes | Path]]":
    """Every file of a bundle holding the whole database: ``(bundle path, bytes or a media file path)``."""
    cases, images = _case_records()
    return [
        ("manifest.json", json.dumps(_manifest(name=name, description=description), indent=2, sort_keys=True).encode()),
        (CASES, _jsonl(cases)),
        (CONVERSATIONS, _jsonl(_conversation_records())),
        (ANNOTATIONS, _jsonl(_annotation_records())),
        (JUDGEMENTS, _jsonl(_judgement_records())),
        *sorted(images.items()),
    ]


def _manifest(*, name: str, description: str) -> dict:
    rubric = Rubric.objects.filter(is_default=True).first()
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "dimensions": list(rubric.dimensions.values_list("key", flat=True)) if rubric else [],
        "scale": [SCORE_MIN, SCORE_MAX],
        "models": [
            {"id": m.key, "name": m.name, "family": m.family, "provider": m.provider, **m.extra}
            for m in ModelUnderTest.objects.order_by("key")
        ],
    }
    conversations = Conversation.objects.all()
    if conversations.exists() and not conversations.filter(synthetic=False).exists():
        manifest["synthetic"] = True
    return manifest


def _case_records() -> tuple[list[dict], dict[str, Path]]:
    """The cases.jsonl records, and every image file by its bundle path."""
    cases, images = [], {}
    for case in Case.objects.prefetch_related("images").select_related("profile").order_by("key"):
        case_images = list(case.images.all())
        cases.append(
            {
                "id": case.key,
                "title": case.title,
                "specialty": case.specialty,
                "diagnosis": case.diagnosis,
                "tags": case.tags,
                "images": [
                    {
                        "file": image.bundle_path,
                        "modality": image.modality,
                        "source": image.source,
                        "license": image.license,
                        "caption": image.caption,
                        **({"pixel_review": image.pixel_review} if image.pixel_review else {}),
                        **image.extra,
                    }
                    for image in case_images
                ],
                "profile": case.profile.raw,
                **case.extra,
            }
        )
        for image in case_images:
            images.setdefault(image.bundle_path, Path(image.original.path))
    return cases, images


def _conversation_records():
    turns_by_conversation = defaultdict(list)
    for turn in Turn.objects.order_by("conversation_id", "index").values("conversation_id", "role", "content", "extra"):
        turns_by_conversation[turn["conversation_id"]].append(
            {"role": turn["role"], "content": turn["content"], **turn["extra"]}
        )
    for c in Conversation.objects.select_related("case", "model").order_by("key"):
        yield {
            "id": c.key,
            "case": c.case.key,
            "model": c.model.key,
            "condition": c.condition,
            "turns": turns_by_conversation[c.pk],
            **({"synthetic": True} if c.synthetic else {}),
            **c.extra,
        }


def _annotation_records():
    annotations = (
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        .select_related("conversation", "annotator")
        .order_by("conversation__key", "annotator__username")
    )
    for a in annotations:
        yield {
            "conversation": a.conversation.key,
            "annotator": a.annotator.username,
            "scores": a.scores,
            "rationale": a.rationale,
            "flags": [{k: v for k, v in f.items() if k != "extra"} | f.get("extra", {}) for f in a.flags],
            **a.extra,
        }


def _judgement_records():
    judgements = (
        Judgement.objects.filter(score__isnull=False)
        .select_related("conversation", "judge", "prompt")
        .order_by("conversation__key", "judge__key", "prompt__key", "prompt__version", "dimension", "sample_index")
    )
    for j in judgements:
        yield {
            "conversation": j.conversation.key,
            "judge": j.judge.key,
            "prompt": j.prompt.reference,
            "dimension": j.dimension,
            "score": j.score,
            **({"sample": j.sample_index} if j.sample_index else {}),
            **({"rationale": j.rationale} if j.rationale else {}),
            **({"raw_reply": j.raw_reply} if j.raw_reply else {}),
            **j.extra,
        }


def export_bundle(*, out: Path, name: str = "IMCBench export", description: str = "", actor=None) -> ExportReport:
    """Write the database as a bundle: a directory, or a ``.zip`` when ``out`` ends in .zip. Never overwrites."""
    out = Path(out)
    if out.exists() and (out.is_file() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not empty; choose a new path")
    files = bundle_files(name=name, description=description)
    if out.suffix == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "x", compression=zipfile.ZIP_DEFLATED) as archive:
            for member, content in files:
                if isinstance(content, Path):
                    archive.write(content, member)
                else:
                    archive.writestr(member, content)
    else:
        for member, content in files:
            target = out / PurePosixPath(member)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.read_bytes() if isinstance(content, Path) else content)
    counts = {member: content.count(b"\n") for member, content in files if isinstance(content, bytes)}
    counts["images"] = sum(1 for _, content in files if isinstance(content, Path))
    AuditEvent.objects.create(actor=actor, action="export_bundle", target=str(out), details=counts)
    return ExportReport(out, counts)
