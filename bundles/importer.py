"""Importing a benchmark bundle into the database (format: ``docs/bundle-format.md``, version 1).

Import is all or nothing. ``bundles.parsing`` reads and validates the whole bundle first; only a bundle without
problems is written, inside one transaction, after ``_Resolver`` has checked its references and conflicts against
the database. Files written to media storage are removed again if that transaction fails. Records whose id
already exists with the same content are left as they are, so re-importing a bundle changes nothing; an id that
exists with different content is a conflict and fails the import.

It is long because it holds the resolver and one writer per record kind, beside the two entry points (a path, and
any ``BundleSource`` such as an adapter's in-memory bundle), so the whole write reads in one place.
"""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from annotation.models import (
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
)
from annotation.roles import Role
from bundles.media import store_file, viewer_files
from bundles.parsing import Limits, ParsedBundle, Record, parse_bundle
from bundles.problems import BundleInvalid, Fields, Problem, ProblemLog, TooManyProblems
from bundles.sources import MANIFEST, BundleSource, UnsafeBundle, open_bundle
from jury.models import Judge, Judgement, JudgePrompt

IMAGE_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "DICOM": ".dcm"}


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
    """Save content-addressed bytes; remember what this import created so a rollback can remove it."""
    if store_file(name=name, data=data):
        written.append(name)
    return name


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


def import_bundle(*, path: Path, actor=None, name: str | None = None) -> ImportReport:
    """Import a bundle directory or ``.zip``. Raises BundleInvalid (nothing changed) or returns a report.

    ``name`` is what problems call the bundle as a whole (an upload's own file name); by default the path's last
    part. Problems never name the server path."""
    try:
        with open_bundle(
            Path(path),
            max_uncompressed_bytes=settings.BUNDLE_MAX_UNCOMPRESSED_BYTES,
            max_ratio=settings.BUNDLE_MAX_COMPRESSION_RATIO,
        ) as source:
            parsed = parse_bundle(source, limits=bundle_limits())
    except UnsafeBundle as error:
        raise BundleInvalid([Problem(name or Path(path).name, None, "", str(error))]) from None
    return _write_all_or_nothing(parsed, source=str(path), actor=actor)


def import_source(*, source: BundleSource, actor=None) -> ImportReport:
    """Import a bundle held by any ``BundleSource`` (an adapter's in-memory bundle), with the same rules."""
    parsed = parse_bundle(source, limits=bundle_limits())
    return _write_all_or_nothing(parsed, source=source.label, actor=actor)


def _write_all_or_nothing(parsed: ParsedBundle, *, source: str, actor) -> ImportReport:
    written: list[str] = []
    try:
        with transaction.atomic():
            return _write_bundle(parsed, source=source, actor=actor, written=written)
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def bundle_limits() -> Limits:
    return Limits(
        max_problems=settings.BUNDLE_MAX_ERRORS,
        max_pixels=settings.IMAGE_MAX_PIXELS,
        max_turn_chars=settings.BUNDLE_MAX_TURN_CHARS,
        max_rationale_chars=settings.BUNDLE_MAX_RATIONALE_CHARS,
    )


def _write_bundle(parsed: ParsedBundle, *, source: str, actor, written: list[str]) -> ImportReport:
    log = ProblemLog(settings.BUNDLE_MAX_ERRORS)
    try:
        _Resolver(parsed, log).check()
    except TooManyProblems:
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

    _write_models(parsed, created, unchanged)
    _write_cases(parsed, bundle, written, created, unchanged)
    _write_conversations(parsed, bundle, created, unchanged)

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


def _write_models(parsed: ParsedBundle, created: dict, unchanged: dict) -> None:
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


def _write_cases(
    parsed: ParsedBundle, bundle: BundleImport, written: list[str], created: dict, unchanged: dict
) -> None:
    existing_cases = set(Case.objects.filter(key__in=parsed.cases).values_list("key", flat=True))
    for key, record in parsed.cases.items():
        if key in existing_cases:
            unchanged["cases"] += 1
            continue
        _create_case(record, parsed, bundle, written)
        created["cases"] += 1


def _write_conversations(parsed: ParsedBundle, bundle: BundleImport, created: dict, unchanged: dict) -> None:
    """The new conversations and their turns, in bulk; those already stored are counted as unchanged."""
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
        viewer = viewer_files(processed=processed, store=lambda name, data: _store_file(name, data, written))
        Image.objects.create(
            case=case,
            position=position,
            bundle_path=image["file"],
            original=original,
            original_format=processed.original_format,
            derivative=derivative,
            **viewer,
            width=processed.width,
            height=processed.height,
            checksum=processed.checksum,
            modality=image["modality"],
            source=image["source"],
            license=image["license"],
            caption=image["caption"],
            pixel_review=image.get("pixel_review") or parsed.pixel_reviews.get(image["file"], {}),
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
            # Known only by its judgements: no provider the app could call, so not offered when launching a run.
            judges[data["judge"]] = Judge.objects.create(key=data["judge"], name=data["judge"], active=False)
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
