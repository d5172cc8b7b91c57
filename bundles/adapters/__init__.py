"""Adapters: other formats read as an in-memory benchmark bundle, then validated and imported like any bundle.

``ADAPTERS`` maps each ``import_bundle --from`` name to a function ``(path) -> rows``; see ``docs/adapters.md``.
"""

from pathlib import Path

from django.conf import settings

from annotation.models import Rubric
from bundles.adapters.chat import DEFAULT_DIMENSIONS, Origin, convert_rows, jsonl_bytes, translate
from bundles.adapters.hf import dataset_rows
from bundles.adapters.inspect_logs import Scores, inspect_rows
from bundles.adapters.mapping import ChatMapping
from bundles.importer import ImportReport, import_source
from bundles.parsing import JUDGEMENTS, read_json_lines
from bundles.problems import BundleInvalid, Problem
from bundles.sources import BundleSource, DirectorySource, UnsafeBundle, open_bundle, safe_member_path


class _FolderFiles(BundleSource):
    """The files beside one uploaded chat log, read by relative path only (never listed, never outside it)."""

    def __init__(self, root: Path, name: str):
        super().__init__(str(root / name))
        self.root, self.name = root.resolve(), name

    def names(self) -> set[str]:
        return {self.name}

    def exists(self, name: str) -> bool:
        path = self.root / name
        return (
            safe_member_path(name) == name
            and path.is_file()
            and not any(p.is_symlink() for p in [path, *path.parents] if p.is_relative_to(self.root))
        )

    def read(self, name: str) -> bytes:
        if not self.exists(name):
            raise FileNotFoundError(name)
        return (self.root / name).read_bytes()


def open_upload(path: Path) -> tuple[BundleSource, list[str]]:
    """A chat-log upload: one ``.jsonl`` file, or a directory or ``.zip`` of them with their images."""
    if path.is_file() and path.suffix in (".jsonl", ".json"):
        return _FolderFiles(path.parent, path.name), [path.name]
    if path.is_dir():
        source = DirectorySource(path)
    else:
        source = open_bundle(
            path,
            max_uncompressed_bytes=settings.BUNDLE_MAX_UNCOMPRESSED_BYTES,
            max_ratio=settings.BUNDLE_MAX_COMPRESSION_RATIO,
        )
    logs = sorted(name for name in source.names() if name.endswith(".jsonl"))
    if not logs:
        source.close()
        raise UnsafeBundle(f"{path.name}: holds no .jsonl chat log")
    return source, logs


def import_openai_chat(*, path: Path, mapping: ChatMapping, actor=None) -> ImportReport:
    """Import a chat log (file, directory or zip) all or nothing; problems name the chat line."""
    path = Path(path)
    try:
        upload, logs = open_upload(path)
    except UnsafeBundle as error:
        raise BundleInvalid([Problem(path.name, None, "", str(error))]) from None
    with upload:

        def rows(log):
            for name in logs:
                for line, raw in read_json_lines(upload, name, log, required=True):
                    yield name, line, raw

        source, origins = convert_rows(rows=rows, mapping=mapping, upload=upload, label=str(path))
    return _import(source, origins, actor)


def import_hf_dataset(*, path: Path, mapping: ChatMapping, actor=None) -> ImportReport:
    """Import a Hugging Face dataset saved to disk, or Parquet / JSON Lines files, read with ``datasets``."""
    path = Path(path)
    source, origins = convert_rows(
        rows=lambda log: dataset_rows(path=path, log=log), mapping=mapping, upload=None, label=str(path)
    )
    return _import(source, origins, actor)


def import_inspect_log(*, path: Path, mapping: ChatMapping, actor=None) -> ImportReport:
    """Import an Inspect log (``.eval`` or ``.json``): its samples as conversations, its rubric scores as
    judgements (``bundles.adapters.inspect_logs``); problems name the sample (its position in the log)."""
    path = Path(path)
    rubric = Rubric.objects.filter(is_default=True).first()
    dimensions = list(rubric.dimensions.values_list("key", flat=True)) if rubric else DEFAULT_DIMENSIONS
    scores = Scores()

    def rows(log):
        return inspect_rows(path=path, log=log, dimensions=dimensions, scores=scores)

    try:
        source, origins = convert_rows(rows=rows, mapping=mapping, upload=None, label=str(path))
        for number, (file, line, _, where) in enumerate(scores.records, start=1):
            explanation = where.split(".value")[0] + ".explanation"
            origins[(JUDGEMENTS, number)] = Origin(file, line, {"score": where, "rationale": explanation})
        source.files[JUDGEMENTS] = jsonl_bytes(record for _, _, record, _ in scores.records)
        report = _import(source, origins, actor)
    except BundleInvalid as error:  # name Inspect's fields, not the chat shape they were read into
        problems = [
            Problem(p.file, p.line, p.field.replace(".image_url.url", ".image"), p.message) for p in error.problems
        ]
        raise BundleInvalid(problems, truncated=error.truncated) from None
    report.notes.extend(scores.notes)
    return report


def _import(source, origins: dict, actor) -> ImportReport:
    try:
        return import_source(source=source, actor=actor)
    except BundleInvalid as error:
        raise translate(error, origins) from None


ADAPTERS = {"openai-chat": import_openai_chat, "hf-dataset": import_hf_dataset, "inspect": import_inspect_log}
SUFFIXES = {  # of one upload
    "openai-chat": (".jsonl", ".json", ".zip"),
    "hf-dataset": (".parquet", ".jsonl", ".json"),
    "inspect": (".eval", ".json"),
}
