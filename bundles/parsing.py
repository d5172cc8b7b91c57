"""Reading and validating a whole benchmark bundle (format: ``docs/bundle-format.md``, version 1), no DB writes.

Every record is checked and every image decoded before the importer touches the database; every problem is
collected as ``file:line: field: message`` (up to a cap) and raised together as one ``BundleInvalid``.
"""

import hashlib
import json
from dataclasses import dataclass, field

from annotation.models import SCORE_MAX, SCORE_MIN, Conversation, Turn, bundle_key
from bundles.imaging import ImageRejected, ProcessedImage, process_image
from bundles.problems import BundleInvalid, Fields, ProblemLog, TooManyProblems, content_hash
from bundles.profiles import ProfileError, summarise_profile
from bundles.sources import MANIFEST, BundleSource, safe_member_path

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
IMAGE_KEYS = {"file", "modality", "source", "license", "caption"}
CONVERSATION_KEYS = {"id", "case", "model", "condition", "turns", "synthetic"}
TURN_KEYS = {"role", "content"}
ANNOTATION_KEYS = {"conversation", "annotator", "scores", "rationale", "flags"}
FLAG_KEYS = {"turn", "kind", "note"}
JUDGEMENT_KEYS = {"conversation", "judge", "prompt", "dimension", "score", "sample", "rationale", "raw_reply"}


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
    except TooManyProblems:
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
