"""Benchmark bundle import and export (format: ``docs/bundle-format.md``, version 1).

Import is all or nothing. The whole bundle is read and validated first — every record, every image decoded —
and every problem is reported as ``file:line: field: message`` (up to a cap). Only a bundle without problems
is written, inside one transaction; files written to media storage are removed again if that transaction
fails. Records whose id already exists with the same content are left as they are, so re-importing a bundle
changes nothing; an id that exists with different content is a conflict and fails the import.
"""

import hashlib
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from annotation.models import (
    SCORE_MAX,
    SCORE_MIN,
    Annotation,
    AuditEvent,
    BundleImport,
    Case,
    Conversation,
    Image,
    ModelUnderTest,
    PatientProfile,
    Rubric,
    RubricDimension,
    Turn,
    bundle_key,
)
from annotation.roles import Role
from bundles.imaging import ImageRejected, ProcessedImage, process_image
from bundles.profiles import ProfileError, summarise_profile
from bundles.sources import MANIFEST, BundleSource, UnsafeBundle, open_bundle, safe_member_path
from jury.models import Judge, Judgement, JudgePrompt

FORMAT_NAME = "imcbench-bundle"
FORMAT_VERSION = 1
CASES, CONVERSATIONS, ANNOTATIONS, JUDGEMENTS = (
    "cases.jsonl",
    "conversations.jsonl",
    "annotations.jsonl",
    "judgements.jsonl",
)
CONDITIONS = tuple(Conversation.Condition.values)
ROLES = tuple(Turn.Role.values)
IMAGE_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "DICOM": ".dcm"}

MANIFEST_KEYS = {"format", "version", "name", "description", "dimensions", "scale", "models", "synthetic"}
MODEL_KEYS = {"id", "name", "family", "provider"}
CASE_KEYS = {"id", "title", "specialty", "diagnosis", "tags", "images", "profile"}
IMAGE_KEYS = {"file", "modality", "source", "license", "caption"}
CONVERSATION_KEYS = {"id", "case", "model", "condition", "turns", "synthetic"}
TURN_KEYS = {"role", "content"}
ANNOTATION_KEYS = {"conversation", "annotator", "scores", "rationale", "flags"}
FLAG_KEYS = {"turn", "kind", "note"}
JUDGEMENT_KEYS = {"conversation", "judge", "prompt", "dimension", "score", "sample", "rationale", "raw_reply"}


# --------------------------------------------------------------------------------------------- problems


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


class _TooManyProblems(Exception):
    pass


class ProblemLog:
    def __init__(self, cap: int):
        self.cap = cap
        self.problems: list[Problem] = []

    def add(self, file: str, line: int | None, field_path: str, message: str) -> None:
        self.problems.append(Problem(file, line, field_path, message))
        if len(self.problems) >= self.cap:
            raise _TooManyProblems

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

    def text(self, key: str, *, required: bool = True, blank: bool = False) -> str | None:
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
        return value

    def key(self, key: str) -> str | None:
        value = self.text(key)
        if value is not None and not bundle_key.regex.match(value):
            self.problem(key, f"{value!r} is not a valid id ({bundle_key.message})")
            return None
        return value

    def flag(self, key: str) -> bool | None:
        value = self.record.get(key, False)
        if not isinstance(value, bool):
            self.problem(key, f"must be true or false, not {value!r}")
            return None
        return value

    def score(self, key: str, value: object) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
            self.problem(key, f"{value!r} is outside the scale {SCORE_MIN}–{SCORE_MAX} (whole numbers)")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(key)
        if value is not None and value not in choices:
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}")
            return None
        return value

    def extra(self, known: set[str]) -> dict:
        return {key: value for key, value in self.record.items() if key not in known}


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: object) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


# --------------------------------------------------------------------------------------------- parsing


@dataclass
class Record:
    """One validated record: ``data`` is what is stored and hashed, ``line`` where it was read."""

    key: tuple
    data: dict
    file: str
    line: int | None
    hash: str = ""

    def __post_init__(self):
        self.hash = content_hash(self.data)


@dataclass
class ParsedBundle:
    manifest: dict
    dimensions: list[str]
    models: dict[str, Record] = field(default_factory=dict)
    cases: dict[str, Record] = field(default_factory=dict)
    conversations: dict[str, Record] = field(default_factory=dict)
    annotations: dict[tuple, Record] = field(default_factory=dict)
    judgements: dict[tuple, Record] = field(default_factory=dict)
    images: dict[str, ProcessedImage] = field(default_factory=dict)
    image_bytes: dict[str, bytes] = field(default_factory=dict)
    content_hash: str = ""


def _read_json_lines(source: BundleSource, name: str, log: ProblemLog, *, required: bool):
    """Yield ``(line_number, object)`` for each non-blank line; bad lines are logged and skipped."""
    if not source.exists(name):
        if required:
            log.add(name, None, "", "file is missing from the bundle")
        return
    try:
        text = source.read(name).decode("utf-8")
    except UnicodeDecodeError as error:
        log.add(name, None, "", f"is not UTF-8 ({error.reason} at byte {error.start})")
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            log.add(name, number, "", f"invalid JSON: {error.msg} (column {error.colno})")
            continue
        if not isinstance(value, dict):
            log.add(name, number, "", f"each line must be a JSON object, not {type(value).__name__}")
            continue
        yield number, value


def _parse_manifest(source: BundleSource, log: ProblemLog) -> tuple[dict, list[str], dict[str, Record]] | None:
    if not source.exists(MANIFEST):
        log.add(MANIFEST, None, "", "file is missing: is this a benchmark bundle?")
        return None
    try:
        manifest = json.loads(source.read(MANIFEST).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        log.add(MANIFEST, None, "", f"invalid JSON: {error}")
        return None
    if not isinstance(manifest, dict):
        log.add(MANIFEST, None, "", "must be a JSON object")
        return None
    fields = Fields(manifest, log=log, file=MANIFEST, line=None)
    if manifest.get("format") != FORMAT_NAME:
        fields.problem("format", f"{manifest.get('format')!r} is not {FORMAT_NAME!r}")
    if manifest.get("version") != FORMAT_VERSION:
        fields.problem("version", f"{manifest.get('version')!r} is not supported (this importer reads version 1)")
    fields.text("name")
    fields.text("description", required=False, blank=True)
    if manifest.get("scale", [SCORE_MIN, SCORE_MAX]) != [SCORE_MIN, SCORE_MAX]:
        fields.problem("scale", f"{manifest.get('scale')!r} is not supported: IMCBench scores are 1–5")
    dimensions = manifest.get("dimensions")
    if not isinstance(dimensions, list) or not dimensions:
        fields.problem("dimensions", "must be a non-empty list of dimension ids")
        dimensions = []
    for index, dimension in enumerate(dimensions):
        if not isinstance(dimension, str) or not bundle_key.regex.match(dimension):
            fields.problem(f"dimensions[{index}]", f"{dimension!r} is not a valid dimension id")
    if len(set(map(str, dimensions))) != len(dimensions):
        fields.problem("dimensions", "lists a dimension twice")
    models: dict[str, Record] = {}
    raw_models = manifest.get("models")
    if not isinstance(raw_models, list):
        fields.problem("models", "must be a list of models under test")
        raw_models = []
    for index, raw in enumerate(raw_models):
        if not isinstance(raw, dict):
            fields.problem(f"models[{index}]", "must be an object")
            continue
        model = fields.nested(raw, f"models[{index}].")
        key, family = model.key("id"), model.text("family")
        if key is None or family is None:
            continue
        if key in models:
            model.problem("id", f"{key!r} is listed twice")
            continue
        data = {
            "id": key,
            "name": model.text("name", required=False) or key,
            "family": family,
            "provider": model.text("provider", required=False, blank=True) or "",
            "extra": model.extra(MODEL_KEYS),
        }
        models[key] = Record((key,), data, MANIFEST, None)
    return manifest, [d for d in dimensions if isinstance(d, str)], models


def _parse_case(fields: Fields, source: BundleSource, images_seen: dict[str, tuple[int, str]]) -> dict | None:
    key = fields.key("id")
    title = fields.text("title")
    specialty = fields.text("specialty", required=False, blank=True)
    diagnosis = fields.text("diagnosis", required=False, blank=True)
    tags = fields.record.get("tags", {})
    malignant = rare = False
    if not isinstance(tags, dict):
        fields.problem("tags", 'must be an object such as {"malignant": true, "rare": false}')
        tags = {}
    else:
        tag_fields = fields.nested(tags, "tags.")
        malignant, rare = tag_fields.flag("malignant"), tag_fields.flag("rare")
    images = []
    raw_images = fields.record.get("images")
    if not isinstance(raw_images, list) or not raw_images:
        fields.problem("images", "must be a non-empty list")
        raw_images = []
    for index, raw in enumerate(raw_images):
        if not isinstance(raw, dict):
            fields.problem(f"images[{index}]", "must be an object")
            continue
        image = fields.nested(raw, f"images[{index}].")
        raw_path = image.text("file")
        source_text, license_text = image.text("source"), image.text("license")
        path = safe_member_path(raw_path) if raw_path else None
        if raw_path and path is None:
            image.problem("file", f"{raw_path!r} is absolute or escapes the bundle")
        elif path and not source.exists(path):
            image.problem("file", f"{path} not found in bundle")
            path = None
        elif path:
            images_seen.setdefault(path, (fields.line, f"images[{index}].file"))
        images.append(
            {
                "file": path,
                "modality": image.text("modality", required=False, blank=True) or "",
                "source": source_text,
                "license": license_text,
                "caption": image.text("caption", required=False, blank=True) or "",
                "extra": image.extra(IMAGE_KEYS),
            }
        )
    profile = fields.record.get("profile")
    try:
        profile_format, summary = summarise_profile(profile)
    except ProfileError as error:
        fields.problem(f"profile.{error.field}" if error.field != "profile" else "profile", error.message)
        profile_format, summary = None, None
    if None in (key, title, specialty, diagnosis, malignant, rare, profile_format) or any(
        None in (image["file"], image["source"], image["license"]) for image in images
    ):
        return None
    return {
        "id": key,
        "title": title,
        "specialty": specialty,
        "diagnosis": diagnosis,
        "tags": tags,
        "images": images,
        "profile": profile,
        "profile_format": profile_format,
        "summary": summary,
        "extra": fields.extra(CASE_KEYS),
    }


def _parse_conversation(fields: Fields, synthetic_bundle: bool) -> dict | None:
    key, case, model = fields.key("id"), fields.key("case"), fields.key("model")
    condition = fields.choice("condition", CONDITIONS)
    synthetic = fields.flag("synthetic")
    turns = []
    raw_turns = fields.record.get("turns")
    if not isinstance(raw_turns, list) or not raw_turns:
        fields.problem("turns", "must be a non-empty list")
        raw_turns = []
    for index, raw in enumerate(raw_turns):
        if not isinstance(raw, dict):
            fields.problem(f"turns[{index}]", "must be an object with role and content")
            continue
        turn = fields.nested(raw, f"turns[{index}].")
        role, content = turn.choice("role", ROLES), turn.text("content")
        turns.append({"role": role, "content": content, "extra": turn.extra(TURN_KEYS)})
    if None in (key, case, model, condition, synthetic) or any(None in (t["role"], t["content"]) for t in turns):
        return None
    return {
        "id": key,
        "case": case,
        "model": model,
        "condition": condition,
        "synthetic": bool(synthetic or synthetic_bundle),
        "turns": turns,
        "extra": fields.extra(CONVERSATION_KEYS),
    }


def _parse_annotation(fields: Fields, dimensions: list[str]) -> dict | None:
    conversation, annotator = fields.key("conversation"), fields.key("annotator")
    rationale = fields.text("rationale", required=False, blank=True)
    scores = fields.record.get("scores")
    valid_scores: dict[str, int] = {}
    if not isinstance(scores, dict) or not scores:
        fields.problem("scores", "must be an object of dimension: score")
        scores = None
    else:
        for dimension, value in scores.items():
            if dimension not in dimensions:
                fields.problem(f"scores.{dimension}", f"unknown dimension (the manifest lists {', '.join(dimensions)})")
            elif (score := fields.score(f"scores.{dimension}", value)) is not None:
                valid_scores[dimension] = score
    flags = []
    raw_flags = fields.record.get("flags", [])
    if not isinstance(raw_flags, list):
        fields.problem("flags", "must be a list")
        raw_flags = []
    for index, raw in enumerate(raw_flags):
        if not isinstance(raw, dict):
            fields.problem(f"flags[{index}]", "must be an object with turn, kind and note")
            continue
        flag = fields.nested(raw, f"flags[{index}].")
        turn = raw.get("turn")
        if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
            flag.problem("turn", f"{turn!r} is not a turn number (1 is the first turn)")
            turn = None
        kind, note = flag.text("kind"), flag.text("note", required=False, blank=True)
        flags.append({"turn": turn, "kind": kind, "note": note or "", "extra": flag.extra(FLAG_KEYS)})
    if (
        None in (conversation, annotator, rationale, scores)
        or len(valid_scores) != len(scores)
        or any(None in (f["turn"], f["kind"]) for f in flags)
    ):
        return None
    return {
        "conversation": conversation,
        "annotator": annotator,
        "scores": valid_scores,
        "rationale": rationale,
        "flags": flags,
        "extra": fields.extra(ANNOTATION_KEYS),
    }


def _parse_judgement(fields: Fields, dimensions: list[str]) -> dict | None:
    conversation, judge = fields.key("conversation"), fields.key("judge")
    prompt = fields.text("prompt")
    prompt_key = prompt_version = None
    if prompt is not None:
        prompt_key, at, prompt_version = prompt.rpartition("@")
        if not at or not prompt_key or not prompt_version or not bundle_key.regex.match(prompt_key):
            fields.problem("prompt", f"{prompt!r} is not a prompt reference of the form prompt-id@version")
            prompt_key = None
    dimension = fields.text("dimension")
    if dimension is not None and dimension not in dimensions:
        fields.problem("dimension", f"{dimension!r} is unknown (the manifest lists {', '.join(dimensions)})")
        dimension = None
    score = fields.score("score", fields.record.get("score"))
    sample = fields.record.get("sample", 0)
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        fields.problem("sample", f"{sample!r} is not a sample index (0, 1, ...)")
        sample = None
    rationale = fields.text("rationale", required=False, blank=True)
    raw_reply = fields.text("raw_reply", required=False, blank=True)
    if None in (conversation, judge, prompt_key, dimension, score, sample, rationale, raw_reply):
        return None
    return {
        "conversation": conversation,
        "judge": judge,
        "prompt": prompt,
        "prompt_key": prompt_key,
        "prompt_version": prompt_version,
        "dimension": dimension,
        "sample": sample,
        "score": score,
        "rationale": rationale,
        "raw_reply": raw_reply,
        "extra": fields.extra(JUDGEMENT_KEYS),
    }


def _add_unique(store: dict, record: Record, fields: Fields, what: str) -> None:
    """Keep ``record`` under its key (the id itself for single-part keys); a repeated key is a problem."""
    key = record.key[0] if len(record.key) == 1 else record.key
    if key in store:
        first = store[key]
        fields.problem(what, f"{'/'.join(record.key)!r} repeats {first.file}:{first.line}")
    else:
        store[key] = record


def parse_bundle(source: BundleSource, *, max_problems: int, max_pixels: int) -> ParsedBundle:
    """Read and validate a whole bundle without touching the database; raise BundleInvalid on any problem."""
    log = ProblemLog(max_problems)
    try:
        parsed = _parse_all(source, log, max_pixels)
    except _TooManyProblems:
        raise BundleInvalid(log.problems, truncated=True) from None
    if log:
        raise BundleInvalid(log.problems)
    return parsed


def _parse_all(source: BundleSource, log: ProblemLog, max_pixels: int) -> ParsedBundle | None:
    header = _parse_manifest(source, log)
    if header is None:
        return None
    manifest, dimensions, models = header
    parsed = ParsedBundle(manifest=manifest, dimensions=dimensions, models=models)
    synthetic_bundle = manifest.get("synthetic") is True
    images_seen: dict[str, tuple[int, str]] = {}
    for line, raw in _read_json_lines(source, CASES, log, required=True):
        fields = Fields(raw, log=log, file=CASES, line=line)
        data = _parse_case(fields, source, images_seen)
        if data:
            _add_unique(parsed.cases, Record((data["id"],), data, CASES, line), fields, "id")
    for path, (line, field_path) in sorted(images_seen.items()):
        data = source.read(path)
        try:
            parsed.images[path] = process_image(data=data, filename=path, max_pixels=max_pixels)
            parsed.image_bytes[path] = data
        except ImageRejected as error:
            log.add(CASES, line, field_path, str(error))
    for case in parsed.cases.values():
        case.data["image_checksums"] = [
            parsed.images[image["file"]].checksum for image in case.data["images"] if image["file"] in parsed.images
        ]
        case.hash = content_hash({k: v for k, v in case.data.items() if k != "summary"})
    for line, raw in _read_json_lines(source, CONVERSATIONS, log, required=True):
        fields = Fields(raw, log=log, file=CONVERSATIONS, line=line)
        data = _parse_conversation(fields, synthetic_bundle)
        if data:
            _add_unique(parsed.conversations, Record((data["id"],), data, CONVERSATIONS, line), fields, "id")
    for line, raw in _read_json_lines(source, ANNOTATIONS, log, required=False):
        fields = Fields(raw, log=log, file=ANNOTATIONS, line=line)
        data = _parse_annotation(fields, dimensions)
        if data:
            key = (data["conversation"], data["annotator"])
            _add_unique(parsed.annotations, Record(key, data, ANNOTATIONS, line), fields, "annotator")
    for line, raw in _read_json_lines(source, JUDGEMENTS, log, required=False):
        fields = Fields(raw, log=log, file=JUDGEMENTS, line=line)
        data = _parse_judgement(fields, dimensions)
        if data:
            key = (
                data["conversation"],
                data["judge"],
                data["prompt"],
                data["dimension"],
                str(data["sample"]),
            )
            _add_unique(parsed.judgements, Record(key, data, JUDGEMENTS, line), fields, "sample")
    digest = hashlib.sha256()
    for name in sorted(n for n in (MANIFEST, CASES, CONVERSATIONS, ANNOTATIONS, JUDGEMENTS) if source.exists(n)):
        digest.update(name.encode() + b"\0" + hashlib.sha256(source.read(name)).digest())
    for path in sorted(parsed.images):
        digest.update(path.encode() + b"\0" + parsed.images[path].checksum.encode())
    parsed.content_hash = digest.hexdigest()
    return parsed


# --------------------------------------------------------------------------------------------- import


@dataclass
class ImportReport:
    name: str
    content_hash: str
    created: dict[str, int]
    unchanged: dict[str, int]
    notes: list[str]
    bundle: BundleImport | None

    @property
    def changed_nothing(self) -> bool:
        return not any(self.created.values())

    def summary(self) -> str:
        if self.changed_nothing:
            total = sum(self.unchanged.values())
            return f"Bundle {self.name!r}: nothing changed — all {total} records are already in the database."
        created = ", ".join(f"{count} {kind}" for kind, count in self.created.items() if count)
        unchanged = ", ".join(f"{count} {kind}" for kind, count in self.unchanged.items() if count)
        text = f"Bundle {self.name!r} imported: created {created}"
        return text + (f"; unchanged {unchanged}." if unchanged else ".")


class _Resolver:
    """Checks a parsed bundle against the database: references resolve, ids that exist hold the same content."""

    def __init__(self, parsed: ParsedBundle, log: ProblemLog):
        self.parsed, self.log = parsed, log
        self.models = {m.key: m for m in ModelUnderTest.objects.filter(key__in=parsed.models.keys())}
        referenced_models = {c.data["model"] for c in parsed.conversations.values()} - parsed.models.keys()
        self.known_models = set(parsed.models) | set(
            ModelUnderTest.objects.filter(key__in=referenced_models).values_list("key", flat=True)
        )
        self.cases = {c.key: c for c in Case.objects.filter(key__in=parsed.cases.keys())}
        referenced_cases = {c.data["case"] for c in parsed.conversations.values()} - parsed.cases.keys()
        self.known_cases = set(parsed.cases) | set(
            Case.objects.filter(key__in=referenced_cases).values_list("key", flat=True)
        )
        annotated = {a.data["conversation"] for a in parsed.annotations.values()}
        judged = {j.data["conversation"] for j in parsed.judgements.values()}
        self.conversations = {
            c.key: c
            for c in Conversation.objects.filter(key__in=set(parsed.conversations) | annotated | judged).select_related(
                "case", "model"
            )
        }
        self.turn_counts = {key: len(r.data["turns"]) for key, r in parsed.conversations.items()}
        missing = [c.pk for key, c in self.conversations.items() if key not in self.turn_counts]
        self.turn_counts |= dict(
            Conversation.objects.filter(pk__in=missing).annotate(n=Count("turns")).values_list("key", "n")
        )

    def conflict(self, record: Record, existing, what: str) -> None:
        if existing is not None and existing.content_hash != record.hash:
            origin = f" (imported from {existing.bundle.name!r})" if getattr(existing, "bundle", None) else ""
            self.log.add(
                record.file,
                record.line,
                "id" if record.file != MANIFEST else f"models[{list(self.parsed.models).index(record.key[0])}].id",
                f"{what} {record.key[0]!r} already exists with different content{origin}; give changed records new ids",
            )

    def check(self) -> None:
        for record in self.parsed.models.values():
            self.conflict(record, self.models.get(record.key[0]), "model")
        for record in self.parsed.cases.values():
            self.conflict(record, self.cases.get(record.key[0]), "case")
        for record in self.parsed.conversations.values():
            fields = Fields(record.data, log=self.log, file=record.file, line=record.line)
            if record.data["case"] not in self.known_cases:
                fields.problem("case", f"{record.data['case']!r} is not a case of this bundle or the database")
            if record.data["model"] not in self.known_models:
                fields.problem("model", f"{record.data['model']!r} is not a model in the manifest or the database")
            self.conflict(record, self.conversations.get(record.key[0]), "conversation")
        for record in self.parsed.annotations.values():
            fields = Fields(record.data, log=self.log, file=record.file, line=record.line)
            conversation = record.data["conversation"]
            if conversation not in self.turn_counts:
                fields.problem("conversation", f"{conversation!r} is not a conversation of this bundle or the database")
                continue
            for index, flag in enumerate(record.data["flags"]):
                if flag["turn"] > self.turn_counts[conversation]:
                    fields.problem(
                        f"flags[{index}].turn",
                        f"{flag['turn']} is past the last turn ({self.turn_counts[conversation]}) of {conversation}",
                    )
        for record in self.parsed.judgements.values():
            if record.data["conversation"] not in self.turn_counts:
                Fields(record.data, log=self.log, file=record.file, line=record.line).problem(
                    "conversation",
                    f"{record.data['conversation']!r} is not a conversation of this bundle or the database",
                )


def _store_file(name: str, data: bytes, written: list[str]) -> str:
    """Save content-addressed bytes once; remember what this import wrote so a rollback can remove it."""
    if default_storage.exists(name):
        return name
    saved = default_storage.save(name, ContentFile(data))
    written.append(saved)
    return saved


def _default_rubric(dimensions: list[str], notes: list[str]) -> Rubric:
    rubric = Rubric.objects.filter(is_default=True).first() or Rubric.objects.create(
        key="imcbench-v1", name="IMCBench rubric v1", is_default=True
    )
    existing = set(rubric.dimensions.values_list("key", flat=True))
    for position, key in enumerate(dimensions):
        if key not in existing:
            RubricDimension.objects.create(
                rubric=rubric,
                key=key,
                name=key.replace("_", " ").capitalize(),
                position=len(existing) + position,
            )
            notes.append(f"new rubric dimension {key!r} created without anchors: write them in the admin")
    return rubric


def _clinician(username: str, group: Group, cache: dict, log: ProblemLog, record: Record):
    if username in cache:
        return cache[username]
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model(username=username)
        user.set_unusable_password()
        user.save()
        user.groups.add(group)
    elif not user.is_staff and not user.groups.filter(name=Role.CLINICIAN).exists():
        Fields(record.data, log=log, file=record.file, line=record.line).problem(
            "annotator", f"{username!r} is an existing account without the clinician role"
        )
    cache[username] = user
    return user


def import_bundle(*, path: Path, actor=None) -> ImportReport:
    """Import a bundle directory or ``.zip``. Raises BundleInvalid (nothing changed) or returns a report."""
    try:
        with open_bundle(
            Path(path),
            max_uncompressed_bytes=settings.BUNDLE_MAX_UNCOMPRESSED_BYTES,
            max_ratio=settings.BUNDLE_MAX_COMPRESSION_RATIO,
        ) as source:
            parsed = parse_bundle(source, max_problems=settings.BUNDLE_MAX_ERRORS, max_pixels=settings.IMAGE_MAX_PIXELS)
    except UnsafeBundle as error:
        raise BundleInvalid([Problem(Path(path).name, None, "", str(error))]) from None
    written: list[str] = []
    try:
        with transaction.atomic():
            return _write_bundle(parsed, source=str(path), actor=actor, written=written)
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def _write_bundle(parsed: ParsedBundle, *, source: str, actor, written: list[str]) -> ImportReport:
    log = ProblemLog(settings.BUNDLE_MAX_ERRORS)
    try:
        _Resolver(parsed, log).check()
    except _TooManyProblems:
        raise BundleInvalid(log.problems, truncated=True) from None
    if log:
        raise BundleInvalid(log.problems)

    created: dict[str, int] = defaultdict(int)
    unchanged: dict[str, int] = defaultdict(int)
    notes: list[str] = []
    name = parsed.manifest["name"]
    bundle = BundleImport(
        name=name,
        description=parsed.manifest.get("description", ""),
        source=source[:500],
        content_hash=parsed.content_hash,
        manifest={k: v for k, v in parsed.manifest.items() if k != "models"} | {"models": list(parsed.models)},
        synthetic=parsed.manifest.get("synthetic") is True,
        imported_by=actor,
    )
    bundle.save()
    rubric = _default_rubric(parsed.dimensions, notes)

    models = {m.key: m for m in ModelUnderTest.objects.filter(key__in=parsed.models)}
    for key, record in parsed.models.items():
        if key in models:
            unchanged["models"] += 1
            continue
        data = record.data
        models[key] = ModelUnderTest.objects.create(
            key=key,
            name=data["name"],
            family=data["family"],
            provider=data["provider"],
            extra=data["extra"],
            content_hash=record.hash,
        )
        created["models"] += 1

    existing_cases = set(Case.objects.filter(key__in=parsed.cases).values_list("key", flat=True))
    for key, record in parsed.cases.items():
        if key in existing_cases:
            unchanged["cases"] += 1
            continue
        _create_case(record, parsed, bundle, written)
        created["cases"] += 1

    case_ids = dict(
        Case.objects.filter(key__in={r.data["case"] for r in parsed.conversations.values()}).values_list("key", "pk")
    )
    model_ids = dict(
        ModelUnderTest.objects.filter(key__in={r.data["model"] for r in parsed.conversations.values()}).values_list(
            "key", "pk"
        )
    )
    existing_conversations = set(
        Conversation.objects.filter(key__in=parsed.conversations).values_list("key", flat=True)
    )
    new_conversations = []
    for key, record in parsed.conversations.items():
        if key in existing_conversations:
            unchanged["conversations"] += 1
            continue
        data = record.data
        new_conversations.append(
            Conversation(
                key=key,
                case_id=case_ids[data["case"]],
                model_id=model_ids[data["model"]],
                condition=data["condition"],
                synthetic=data["synthetic"],
                extra=data["extra"],
                content_hash=record.hash,
                bundle=bundle,
            )
        )
    Conversation.objects.bulk_create(new_conversations, batch_size=500)
    conversation_ids = dict(
        Conversation.objects.filter(key__in=[c.key for c in new_conversations]).values_list("key", "pk")
    )
    Turn.objects.bulk_create(
        [
            Turn(
                conversation_id=conversation_ids[key],
                index=index,
                role=turn["role"],
                content=turn["content"],
                extra=turn["extra"],
            )
            for key in conversation_ids
            for index, turn in enumerate(parsed.conversations[key].data["turns"])
        ],
        batch_size=1000,
    )
    created["conversations"] += len(new_conversations)

    all_conversation_ids = dict(
        Conversation.objects.filter(
            key__in={r.data["conversation"] for r in (*parsed.annotations.values(), *parsed.judgements.values())}
        ).values_list("key", "pk")
    )
    _write_annotations(parsed, bundle, rubric, all_conversation_ids, created, unchanged, log)
    _write_judgements(parsed, bundle, all_conversation_ids, created, unchanged, log)
    if log:
        raise BundleInvalid(log.problems)

    created = {kind: count for kind, count in created.items() if count}
    if not created:
        transaction.set_rollback(True)
        return ImportReport(name, parsed.content_hash, {}, dict(unchanged), notes, None)
    bundle.counts = {"created": created, "unchanged": dict(unchanged)}
    bundle.save(update_fields=["counts"])
    AuditEvent.objects.create(
        actor=actor,
        action="import_bundle",
        target=name,
        details={"bundle": bundle.pk, "content_hash": parsed.content_hash, **bundle.counts, "notes": notes},
    )
    return ImportReport(name, parsed.content_hash, created, dict(unchanged), notes, bundle)


def _create_case(record: Record, parsed: ParsedBundle, bundle: BundleImport, written: list[str]) -> Case:
    data = record.data
    tags = data["tags"]
    case = Case.objects.create(
        key=data["id"],
        title=data["title"],
        specialty=data["specialty"],
        diagnosis=data["diagnosis"],
        malignant=bool(tags.get("malignant", False)),
        rare=bool(tags.get("rare", False)),
        modality=data["images"][0]["modality"],
        tags=tags,
        extra=data["extra"],
        content_hash=record.hash,
        bundle=bundle,
    )
    PatientProfile.objects.create(
        case=case, format=data["profile_format"], raw=data["profile"], summary=data["summary"]
    )
    for position, image in enumerate(data["images"]):
        processed = parsed.images[image["file"]]
        shard = processed.checksum[:2]
        suffix = IMAGE_SUFFIXES[processed.original_format]
        original = _store_file(
            f"images/original/{shard}/{processed.checksum}{suffix}",
            parsed.image_bytes[image["file"]],
            written,
        )
        derivative_suffix = ".jpg" if processed.derivative_format == "JPEG" else ".png"
        derivative = _store_file(
            f"images/web/{shard}/{processed.checksum}{derivative_suffix}", processed.derivative, written
        )
        Image.objects.create(
            case=case,
            position=position,
            bundle_path=image["file"],
            original=original,
            original_format=processed.original_format,
            derivative=derivative,
            width=processed.width,
            height=processed.height,
            checksum=processed.checksum,
            modality=image["modality"],
            source=image["source"],
            license=image["license"],
            caption=image["caption"],
            extra=image["extra"],
        )
    return case


def _write_annotations(parsed, bundle, rubric, conversation_ids, created, unchanged, log) -> None:
    if not parsed.annotations:
        return
    group, _ = Group.objects.get_or_create(name=Role.CLINICIAN)
    users: dict = {}
    existing = {
        (a.conversation.key, a.annotator.username): a
        for a in Annotation.objects.filter(conversation_id__in=conversation_ids.values(), rubric=rubric).select_related(
            "conversation", "annotator"
        )
    }
    now = timezone.now()
    new = []
    for key, record in parsed.annotations.items():
        found = existing.get(key)
        if found is not None:
            if found.content_hash != record.hash:
                Fields(record.data, log=log, file=record.file, line=record.line).problem(
                    "annotator",
                    f"{key[1]!r} already has a different annotation of {key[0]!r}; annotations are never overwritten",
                )
            else:
                unchanged["annotations"] += 1
            continue
        data = record.data
        new.append(
            Annotation(
                conversation_id=conversation_ids[key[0]],
                annotator=_clinician(key[1], group, users, log, record),
                rubric=rubric,
                status=Annotation.Status.SUBMITTED,
                scores=data["scores"],
                rationale=data["rationale"],
                flags=data["flags"],
                extra=data["extra"],
                content_hash=record.hash,
                bundle=bundle,
                submitted_at=now,
            )
        )
    Annotation.objects.bulk_create(new, batch_size=500)
    created["annotations"] += len(new)


def _write_judgements(parsed, bundle, conversation_ids, created, unchanged, log) -> None:

    if not parsed.judgements:
        return
    judges = {j.key: j for j in Judge.objects.filter(key__in={r.data["judge"] for r in parsed.judgements.values()})}
    prompts = {}
    existing = {
        (j.conversation.key, j.judge.key, j.prompt.reference, j.dimension, str(j.sample_index)): j
        for j in Judgement.objects.filter(conversation_id__in=conversation_ids.values()).select_related(
            "conversation", "judge", "prompt"
        )
    }
    new = []
    for key, record in parsed.judgements.items():
        data = record.data
        found = existing.get(key)
        if found is not None:
            if found.content_hash != record.hash:
                Fields(data, log=log, file=record.file, line=record.line).problem(
                    "score",
                    f"a different judgement {'/'.join(key)} already exists; judgements are never overwritten",
                )
            else:
                unchanged["judgements"] += 1
            continue
        if data["judge"] not in judges:
            judges[data["judge"]] = Judge.objects.create(key=data["judge"], name=data["judge"])
            created["judges"] += 1
        prompt_ref = (data["prompt_key"], data["prompt_version"])
        if prompt_ref not in prompts:
            prompts[prompt_ref], made = JudgePrompt.objects.get_or_create(
                key=prompt_ref[0], version=prompt_ref[1], defaults={"dimension": data["dimension"]}
            )
            created["prompts"] += int(made)
        new.append(
            Judgement(
                conversation_id=conversation_ids[data["conversation"]],
                judge=judges[data["judge"]],
                prompt=prompts[prompt_ref],
                dimension=data["dimension"],
                sample_index=data["sample"],
                score=data["score"],
                rationale=data["rationale"],
                raw_reply=data["raw_reply"],
                extra=data["extra"],
                content_hash=record.hash,
                bundle=bundle,
            )
        )
    Judgement.objects.bulk_create(new, batch_size=1000)
    created["judgements"] += len(new)


# --------------------------------------------------------------------------------------------- export


@dataclass
class ExportReport:
    path: Path
    counts: dict[str, int]


def _jsonl(records) -> bytes:
    return "".join(canonical_json(record) + "\n" for record in records).encode()


def bundle_files(*, name: str, description: str = "") -> "list[tuple[str, bytes | Path]]":
    """Every file of a bundle holding the whole database: ``(bundle path, bytes or a media file path)``."""

    rubric = Rubric.objects.filter(is_default=True).first()
    dimensions = list(rubric.dimensions.values_list("key", flat=True)) if rubric else []
    models = [
        {"id": m.key, "name": m.name, "family": m.family, "provider": m.provider, **m.extra}
        for m in ModelUnderTest.objects.order_by("key")
    ]
    conversations = Conversation.objects.select_related("case", "model").order_by("key")
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "dimensions": dimensions,
        "scale": [SCORE_MIN, SCORE_MAX],
        "models": models,
    }
    if conversations.exists() and not conversations.filter(synthetic=False).exists():
        manifest["synthetic"] = True
    files: list[tuple[str, bytes | Path]] = [("manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())]
    cases, images = [], {}
    for case in Case.objects.prefetch_related("images").select_related("profile").order_by("key"):
        record = {
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
                    **image.extra,
                }
                for image in case.images.all()
            ],
            "profile": case.profile.raw,
            **case.extra,
        }
        cases.append(record)
        for image in case.images.all():
            images.setdefault(image.bundle_path, Path(image.original.path))
    files.append((CASES, _jsonl(cases)))
    turns_by_conversation = defaultdict(list)
    for turn in Turn.objects.order_by("conversation_id", "index").values("conversation_id", "role", "content", "extra"):
        turns_by_conversation[turn["conversation_id"]].append(
            {"role": turn["role"], "content": turn["content"], **turn["extra"]}
        )
    files.append(
        (
            CONVERSATIONS,
            _jsonl(
                {
                    "id": c.key,
                    "case": c.case.key,
                    "model": c.model.key,
                    "condition": c.condition,
                    "turns": turns_by_conversation[c.pk],
                    **({"synthetic": True} if c.synthetic else {}),
                    **c.extra,
                }
                for c in conversations
            ),
        )
    )
    annotations = (
        Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        .select_related("conversation", "annotator")
        .order_by("conversation__key", "annotator__username")
    )
    files.append(
        (
            ANNOTATIONS,
            _jsonl(
                {
                    "conversation": a.conversation.key,
                    "annotator": a.annotator.username,
                    "scores": a.scores,
                    "rationale": a.rationale,
                    "flags": [{k: v for k, v in f.items() if k != "extra"} | f.get("extra", {}) for f in a.flags],
                    **a.extra,
                }
                for a in annotations
            ),
        )
    )
    judgements = (
        Judgement.objects.filter(score__isnull=False)
        .select_related("conversation", "judge", "prompt")
        .order_by("conversation__key", "judge__key", "prompt__key", "prompt__version", "dimension", "sample_index")
    )
    files.append(
        (
            JUDGEMENTS,
            _jsonl(
                {
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
                for j in judgements
            ),
        )
    )
    files.extend(sorted(images.items()))
    return files


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


def read_upload(uploaded, *, directory: Path) -> Path:
    """Save an uploaded .zip to ``directory`` (a temporary folder) and return its path."""
    target = Path(directory) / "upload.zip"
    with target.open("wb") as handle:
        for chunk in uploaded.chunks():
            handle.write(chunk)
    return target
