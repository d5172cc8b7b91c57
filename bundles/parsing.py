"""Reading and validating a whole benchmark bundle (format: ``docs/bundle-format.md``, version 1), no DB writes.

Every record is checked and every image decoded before the importer touches the database; every problem is
collected as ``file:line: field: message`` (up to a cap) and raised together as one ``BundleInvalid``.

It is long because it holds one parser per record kind of the format, beside the JSON Lines reader and the
column limits they share, so the whole of what a bundle may hold reads in one place.
"""

import hashlib
import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth import get_user_model

from annotation.models import (
    SCORE_MAX,
    SCORE_MIN,
    BundleImport,
    Case,
    Conversation,
    Image,
    ModelUnderTest,
    RubricDimension,
    Turn,
)
from bundles.imaging import ImageRejected, ProcessedImage, process_image
from bundles.problems import BundleInvalid, Fields, ProblemLog, TooManyProblems, content_hash, is_key, shown
from bundles.profiles import ProfileError, summarise_profile
from bundles.sources import MANIFEST, BundleSource, safe_member_path
from jury.models import JudgePrompt

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

MANIFEST_KEYS = {"format", "version", "name", "description", "dimensions", "scale", "models", "synthetic"}
MODEL_KEYS = {"id", "name", "family", "provider"}
CASE_KEYS = {"id", "title", "specialty", "diagnosis", "tags", "images", "profile"}
IMAGE_KEYS = {"file", "modality", "source", "license", "caption", "pixel_review"}
PIXEL_REVIEW_KEYS = ("identifying", "by", "on", "note")
PIXEL_REVIEW_LIMITS = {"by": 200, "note": 2000}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INVALID = object()  # a pixel_review that was refused (the bundle fails on that problem already)
CONVERSATION_KEYS = {"id", "case", "model", "condition", "turns", "synthetic"}
TURN_KEYS = {"role", "content"}
ANNOTATION_KEYS = {"conversation", "annotator", "scores", "rationale", "flags"}
FLAG_KEYS = {"turn", "kind", "note"}
JUDGEMENT_KEYS = {"conversation", "judge", "prompt", "dimension", "score", "sample", "rationale", "raw_reply"}

MAX_JSON_DEPTH = 64  # objects and lists inside one record; FHIR profiles need about ten
MAX_SAMPLE_INDEX = 32767  # Judgement.sample_index is a small integer
_SURROGATE = re.compile("[\ud800-\udfff]")


def column(model, name: str) -> int:
    """The ``max_length`` of a model's character column: longer values fail on PostgreSQL, and SQLite keeps them."""
    return model._meta.get_field(name).max_length


@dataclass(frozen=True)
class Limits:
    """What one import accepts; the importer fills it from the ``BUNDLE_*`` and ``IMAGE_MAX_PIXELS`` settings."""

    max_problems: int
    max_pixels: int
    max_turn_chars: int
    max_rationale_chars: int


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
    pixel_reviews: dict[str, dict] = field(default_factory=dict)  # by image path, from whichever entry gave it
    content_hash: str = ""


def read_json_lines(source: BundleSource, name: str, log: ProblemLog, *, required: bool):
    """Yield ``(line_number, object)`` for each non-blank line; bad lines are logged and skipped."""
    if not source.exists(name):
        if required:
            log.add(name, None, "", "file is missing from the bundle")
        return
    data = source.read(name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        log.add(name, line, "", f"is not UTF-8 ({error.reason} at byte {error.start})")
        return
    # Only "\n" ends a line: str.splitlines() would also split at U+2028 and others, valid inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        value = _load_json(line, log, name, number)
        if value is None:
            continue
        if not isinstance(value, dict):
            log.add(name, number, "", f"each line must be a JSON object, not {type(value).__name__}")
            continue
        yield number, value


def _load_json(text: str, log: ProblemLog, name: str, line: int | None) -> object | None:
    """Decode one JSON document; ``None`` (problems logged) when it is invalid or holds what no column can store."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        log.add(
            name,
            line,
            "",
            f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
            if line is None
            else f"invalid JSON: {error.msg} (column {error.colno})",
        )
        return None
    except RecursionError:
        log.add(name, line, "", f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
        return None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        log.add(name, line, "", f"invalid JSON: {error}")
        return None
    problems = json_value_problems(value)
    for path, message in problems:
        log.add(name, line, path, message)
    return None if problems else value


def json_value_problems(value: object) -> list[tuple[str, str]]:
    """``(field path, message)`` for every value a database cannot store: NaN and infinities, NUL characters,
    unpaired surrogates, and objects or lists nested deeper than ``MAX_JSON_DEPTH``. Walks without recursion."""
    problems = []
    pending = deque([(value, "", 0)])
    while pending:
        item, path, depth = pending.popleft()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                problems.append((path, f"is nested deeper than {MAX_JSON_DEPTH} levels"))
                continue
            for key, child in item.items() if isinstance(item, dict) else enumerate(item):
                if isinstance(key, str) and (message := _text_problem(key)):
                    problems.append((path, f"key {shown(key)} {message}"))
                child_path = f"{path}[{key}]" if isinstance(item, list) else f"{path}.{key}" if path else key
                pending.append((child, child_path, depth + 1))
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append((path, f"{json.dumps(item)} is not a number JSON allows (no NaN or Infinity)"))
        elif isinstance(item, str) and (message := _text_problem(item)):
            problems.append((path, message))
    return problems


def _text_problem(text: str) -> str | None:
    if "\0" in text:
        return "contains a NUL character (\\u0000), which the database cannot store"
    if match := _SURROGATE.search(text):
        return f"contains an unpaired surrogate ({match.group()!r}), which is not valid Unicode"
    return None


def _parse_manifest(source: BundleSource, log: ProblemLog) -> tuple[dict, list[str], dict[str, Record]] | None:
    if not source.exists(MANIFEST):
        log.add(MANIFEST, None, "", "file is missing: is this a benchmark bundle?")
        return None
    try:
        text = source.read(MANIFEST).decode("utf-8")
    except UnicodeDecodeError as error:
        log.add(MANIFEST, None, "", f"invalid JSON: {error}")
        return None
    manifest = _load_json(text, log, MANIFEST, None)
    if manifest is None:
        return None
    if not isinstance(manifest, dict):
        log.add(MANIFEST, None, "", "must be a JSON object")
        return None
    fields = Fields(manifest, log=log, file=MANIFEST, line=None)
    if manifest.get("format") != FORMAT_NAME:
        fields.problem("format", f"{shown(manifest.get('format'))} is not {FORMAT_NAME!r}")
    if manifest.get("version") != FORMAT_VERSION:
        fields.problem("version", f"{shown(manifest.get('version'))} is not supported (this importer reads version 1)")
    fields.text("name", max_length=column(BundleImport, "name"))
    fields.text("description", required=False, blank=True)
    if manifest.get("scale", [SCORE_MIN, SCORE_MAX]) != [SCORE_MIN, SCORE_MAX]:
        fields.problem("scale", f"{shown(manifest.get('scale'))} is not supported: IMCBench scores are 1–5")
    dimensions = _parse_dimensions(fields)
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
        key, family = model.key("id"), model.text("family", max_length=column(ModelUnderTest, "family"))
        if key is None or family is None:
            continue
        if key in models:
            model.problem("id", f"{key!r} is listed twice")
            continue
        data = {
            "id": key,
            "name": model.text("name", required=False, max_length=column(ModelUnderTest, "name")) or key,
            "family": family,
            "provider": model.text(
                "provider", required=False, blank=True, max_length=column(ModelUnderTest, "provider")
            )
            or "",
            "extra": model.extra(MODEL_KEYS),
        }
        models[key] = Record((key,), data, MANIFEST, None)
    return manifest, dimensions, models


def _parse_dimensions(fields: Fields) -> list[str]:
    dimensions = fields.record.get("dimensions")
    if not isinstance(dimensions, list) or not dimensions:
        fields.problem("dimensions", "must be a non-empty list of dimension ids")
        dimensions = []
    for index, dimension in enumerate(dimensions):
        if not isinstance(dimension, str) or not is_key(dimension):
            fields.problem(f"dimensions[{index}]", f"{shown(dimension)} is not a valid dimension id")
        elif len(dimension) > column(RubricDimension, "key"):
            fields.problem(f"dimensions[{index}]", f"is longer than {column(RubricDimension, 'key')} characters")
    if len(set(map(str, dimensions))) != len(dimensions):
        fields.problem("dimensions", "lists a dimension twice")
    return [d for d in dimensions if isinstance(d, str)]


@dataclass(frozen=True)
class ImageUse:
    """Where a case names an image file, and the pixel review that entry records (None, a dict, or _INVALID)."""

    line: int | None
    field_path: str
    review: object


def _parse_pixel_review(image: Fields):
    """An image entry's ``pixel_review``: who looked at every frame, when, what they saw, and that nothing in the
    pixels identifies anyone. None when the entry has none; _INVALID (after logging why) when it is malformed."""
    review = image.record.get("pixel_review")
    if review is None:
        return None
    if not isinstance(review, dict):
        image.problem("pixel_review", 'must be an object {"identifying": false, "by", "on": "YYYY-MM-DD", "note"}')
        return _INVALID
    fields = image.nested(review, "pixel_review.")
    problems = len(image.log.problems)
    for key in sorted(set(review) - set(PIXEL_REVIEW_KEYS)):
        fields.problem(key, f"is not a field of a pixel review ({', '.join(PIXEL_REVIEW_KEYS)})")
    identifying = review.get("identifying")
    if identifying is True:
        fields.problem(
            "identifying",
            "is true: pixels that identify someone cannot be imported; supply a copy with the text removed",
        )
    elif identifying is not False:
        fields.problem(
            "identifying", f"must be false (the reviewer found nothing identifying), not {shown(identifying)}"
        )
    checked = {key: fields.text(key, max_length=limit) for key, limit in PIXEL_REVIEW_LIMITS.items()}
    on = fields.text("on")
    if on is not None and not _is_iso_date(on):
        fields.problem("on", f"{shown(on)} is not a date written YYYY-MM-DD")
    if len(image.log.problems) > problems:
        return _INVALID
    return {"identifying": False, "by": checked["by"], "on": on, "note": checked["note"]}


def _is_iso_date(text: str) -> bool:
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _parse_case_images(fields: Fields, source: BundleSource, images_seen: dict[str, list[ImageUse]]) -> list[dict]:
    """A case's ``images`` entries, each file checked to lie inside the bundle and exist there."""
    images = []
    for index, image in fields.objects("images"):
        raw_path = image.text("file", max_length=column(Image, "bundle_path"))
        source_text = image.text("source", max_length=column(Image, "source"))
        license_text = image.text("license", max_length=column(Image, "license"))
        modality = image.text("modality", required=False, blank=True, max_length=column(Image, "modality"))
        review = _parse_pixel_review(image)
        path = safe_member_path(raw_path) if raw_path else None
        if raw_path and path is None:
            image.problem("file", f"{shown(raw_path)} is absolute or escapes the bundle")
        elif path and not source.exists(path):
            image.problem("file", f"{path} not found in bundle")
            path = None
        elif path:
            images_seen.setdefault(path, []).append(ImageUse(fields.line, f"images[{index}]", review))
        entry = {
            "file": path,
            "modality": modality or "",
            "source": source_text,
            "license": license_text,
            "caption": image.text("caption", required=False, blank=True) or "",
            "extra": image.extra(IMAGE_KEYS),
        }
        if isinstance(review, dict):  # only then: the content hash of a case without one stays what it was
            entry["pixel_review"] = review
        images.append(entry)
    return images


def _parse_case(fields: Fields, source: BundleSource, images_seen: dict[str, list[ImageUse]]) -> dict | None:
    key = fields.key("id")
    title = fields.text("title", max_length=column(Case, "title"))
    specialty = fields.text("specialty", required=False, blank=True, max_length=column(Case, "specialty"))
    diagnosis = fields.text("diagnosis", required=False, blank=True, max_length=column(Case, "diagnosis"))
    tags = fields.record.get("tags", {})
    malignant = rare = False
    if not isinstance(tags, dict):
        fields.problem("tags", 'must be an object such as {"malignant": true, "rare": false}')
        tags = {}
    else:
        tag_fields = fields.nested(tags, "tags.")
        malignant, rare = tag_fields.flag("malignant"), tag_fields.flag("rare")
    images = _parse_case_images(fields, source, images_seen)
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


def _parse_conversation(fields: Fields, synthetic_bundle: bool, limits: Limits) -> dict | None:
    key, case, model = fields.key("id"), fields.key("case"), fields.key("model")
    condition = fields.choice("condition", CONDITIONS)
    synthetic = fields.flag("synthetic")
    turns = []
    for _, turn in fields.objects("turns", each="an object with role and content"):
        role, content = turn.choice("role", ROLES), turn.text("content", max_length=limits.max_turn_chars)
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


def _parse_annotation(fields: Fields, dimensions: list[str], limits: Limits) -> dict | None:
    user_model = get_user_model()
    username_length = column(user_model, user_model.USERNAME_FIELD)
    conversation, annotator = fields.key("conversation"), fields.key("annotator", max_length=username_length)
    rationale = fields.text("rationale", required=False, blank=True, max_length=limits.max_rationale_chars)
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
            flag.problem("turn", f"{shown(turn)} is not a turn number (1 is the first turn)")
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


def _parse_judgement(fields: Fields, dimensions: list[str], limits: Limits) -> dict | None:
    conversation, judge = fields.key("conversation"), fields.key("judge")
    prompt = fields.text("prompt")
    prompt_key = prompt_version = None
    if prompt is not None:
        prompt_key, at, prompt_version = prompt.rpartition("@")
        if not at or not prompt_key or not prompt_version or not is_key(prompt_key):
            fields.problem("prompt", f"{shown(prompt)} is not a prompt reference of the form prompt-id@version")
            prompt_key = None
        elif len(prompt_version) > column(JudgePrompt, "version"):
            fields.problem("prompt", f"the version is longer than {column(JudgePrompt, 'version')} characters")
            prompt_key = None
    dimension = fields.text("dimension")
    if dimension is not None and dimension not in dimensions:
        fields.problem("dimension", f"{shown(dimension)} is unknown (the manifest lists {', '.join(dimensions)})")
        dimension = None
    score = fields.score("score", fields.record.get("score"))
    sample = fields.record.get("sample", 0)
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample <= MAX_SAMPLE_INDEX:
        fields.problem("sample", f"{shown(sample)} is not a sample index (0, 1, ... {MAX_SAMPLE_INDEX})")
        sample = None
    rationale = fields.text("rationale", required=False, blank=True, max_length=limits.max_rationale_chars)
    raw_reply = fields.text("raw_reply", required=False, blank=True, max_length=limits.max_turn_chars)
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


def _file_review(path: str, uses: list[ImageUse], log: ProblemLog):
    """The pixel review of one image file, from whichever entries name it; two different ones are a problem.
    A refused review counts as one here, since the bundle already fails on it."""
    reviews = [use for use in uses if use.review is not None]
    for use in reviews[1:]:
        if use.review != reviews[0].review and _INVALID not in (use.review, reviews[0].review):
            log.add(
                CASES,
                use.line,
                f"{use.field_path}.pixel_review",
                f"differs from the review of {path} at {CASES}:{reviews[0].line}; one file has one review",
            )
    return reviews[0].review if reviews else None


def parse_bundle(source: BundleSource, *, limits: Limits) -> ParsedBundle:
    """Read and validate a whole bundle without touching the database; raise BundleInvalid on any problem."""
    log = ProblemLog(limits.max_problems)
    try:
        parsed = _parse_all(source, log, limits)
    except TooManyProblems:
        raise BundleInvalid(log.problems, truncated=True) from None
    if log:
        raise BundleInvalid(log.problems)
    return parsed


def _parse_all(source: BundleSource, log: ProblemLog, limits: Limits) -> ParsedBundle | None:
    header = _parse_manifest(source, log)
    if header is None:
        return None
    manifest, dimensions, models = header
    parsed = ParsedBundle(manifest=manifest, dimensions=dimensions, models=models)
    synthetic_bundle = manifest.get("synthetic") is True
    images_seen: dict[str, list[ImageUse]] = {}
    for line, raw in read_json_lines(source, CASES, log, required=True):
        fields = Fields(raw, log=log, file=CASES, line=line)
        data = _parse_case(fields, source, images_seen)
        if data:
            _add_unique(parsed.cases, Record((data["id"],), data, CASES, line), fields, "id")
    for path, uses in sorted(images_seen.items()):
        reviewed = _file_review(path, uses, log)
        if isinstance(reviewed, dict):
            parsed.pixel_reviews[path] = reviewed
        data = source.read(path)
        try:
            parsed.images[path] = process_image(
                data=data, filename=path, max_pixels=limits.max_pixels, pixels_reviewed=reviewed is not None
            )
            parsed.image_bytes[path] = data
        except ImageRejected as error:
            log.add(CASES, uses[0].line, f"{uses[0].field_path}.file", str(error))
    for case in parsed.cases.values():
        case.data["image_checksums"] = [
            parsed.images[image["file"]].checksum for image in case.data["images"] if image["file"] in parsed.images
        ]
        case.hash = content_hash({k: v for k, v in case.data.items() if k != "summary"})
    for line, raw in read_json_lines(source, CONVERSATIONS, log, required=True):
        fields = Fields(raw, log=log, file=CONVERSATIONS, line=line)
        data = _parse_conversation(fields, synthetic_bundle, limits)
        if data:
            _add_unique(parsed.conversations, Record((data["id"],), data, CONVERSATIONS, line), fields, "id")
    for line, raw in read_json_lines(source, ANNOTATIONS, log, required=False):
        fields = Fields(raw, log=log, file=ANNOTATIONS, line=line)
        data = _parse_annotation(fields, dimensions, limits)
        if data:
            key = (data["conversation"], data["annotator"])
            _add_unique(parsed.annotations, Record(key, data, ANNOTATIONS, line), fields, "annotator")
    for line, raw in read_json_lines(source, JUDGEMENTS, log, required=False):
        fields = Fields(raw, log=log, file=JUDGEMENTS, line=line)
        data = _parse_judgement(fields, dimensions, limits)
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
