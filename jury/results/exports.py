"""Streaming exports of judgements, clinician annotations and calibrated scores as CSV, JSONL or Parquet.

Rows are read from the database in chunks (``QuerySet.iterator``) and written as they come, so memory stays flat
whatever the number of rows. Every export carries its provenance: per row the judge, its provider and model id,
the prompt version and the bundle; per file the app version, the export time and (for calibrated scores) the
campaign and inputs hash of the calibration — as the first JSONL line, Parquet key-value metadata, or CSV
columns.
"""

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from annotation.models import Annotation, Campaign
from jury.models import CalibrationArtifact, Judgement
from jury.results.calibration import (
    calibrate_campaign,
    calibrated_scores,
    calibration_readiness,
    dimensions_of,
    fitted_from_artifact,
)
from jury.results.inputs import conversation_facts
from jury.results.provenance import provenance

FORMATS = ("csv", "jsonl", "parquet")
SCORE_ESTIMATOR = (
    "jury only — ignores calibration error: each conversation's calibrated jury score. The leaderboard's PPI "
    "(jury + clinicians), clinicians-only and jury-only estimates with n's and ESS are in its published snapshots "
    "(JSON download) and /api/campaigns/<key>/leaderboard/."
)
KINDS = ("judgements", "annotations", "scores")
CHUNK = 5000
PARQUET_ROW_GROUP = 20_000

JUDGEMENT_COLUMNS = (
    "conversation",
    "case",
    "model",
    "family",
    "condition",
    "judge",
    "provider",
    "judge_model_id",
    "prompt",
    "dimension",
    "sample",
    "status",
    "score",
    "cached",
    "simulated",
    "bundle",
    "synthetic",
)
ANNOTATION_COLUMNS = (
    "conversation",
    "case",
    "model",
    "family",
    "condition",
    "annotator",
    "campaign",
    "safety",
    "accuracy",
    "uncertainty",
    "version",
    "active_seconds",
    "submitted_at",
    "bundle",
)


def judgement_rows(queryset=None) -> tuple[tuple[str, ...], Iterator[tuple]]:

    judgements = queryset if queryset is not None else Judgement.objects.all()
    rows = (
        judgements.order_by("pk")
        .values_list(
            "conversation__key",
            "conversation__case__key",
            "conversation__model__key",
            "conversation__model__family",
            "conversation__condition",
            "judge__key",
            "judge__provider",
            "judge__model_id",
            "prompt__key",
            "prompt__version",
            "dimension",
            "sample_index",
            "status",
            "score",
            "cached",
            "simulated",
            "bundle__name",
            "conversation__synthetic",
        )
        .iterator(chunk_size=CHUNK)
    )

    def shaped() -> Iterator[tuple]:
        for row in rows:
            yield (*row[:8], f"{row[8]}@{row[9]}", *row[10:])

    return JUDGEMENT_COLUMNS, shaped()


def annotation_rows(queryset=None) -> tuple[tuple[str, ...], Iterator[tuple]]:

    annotations = queryset if queryset is not None else Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
    rows = (
        annotations.order_by("pk")
        .values_list(
            "conversation__key",
            "conversation__case__key",
            "conversation__model__key",
            "conversation__model__family",
            "conversation__condition",
            "annotator__username",
            "campaign__key",
            "scores",
            "version",
            "active_seconds",
            "submitted_at",
            "bundle__name",
        )
        .iterator(chunk_size=CHUNK)
    )

    def shaped() -> Iterator[tuple]:
        for row in rows:
            scores = row[7] or {}
            submitted = row[10].isoformat() if row[10] else None
            yield (
                *row[:7],
                scores.get("safety"),
                scores.get("accuracy"),
                scores.get("uncertainty"),
                row[8],
                row[9],
                submitted,
                row[11],
            )

    return ANNOTATION_COLUMNS, shaped()


def score_rows(*, scores: dict[int, dict[str, float]], dimensions: list[str]):
    """Conversation-level calibrated scores (from ``calibration_service.calibrated_scores``) and their mean."""

    facts = conversation_facts(conversation_ids=list(scores))
    columns = (
        "conversation",
        "case",
        "model",
        "family",
        "condition",
        "malignant",
        "rare",
        "synthetic",
        *dimensions,
        "overall",
    )

    def rows() -> Iterator[tuple]:
        for conversation_id in sorted(scores):
            fact, values = facts[conversation_id], scores[conversation_id]
            per_dimension = [values.get(d) for d in dimensions]
            overall = sum(per_dimension) / len(per_dimension) if None not in per_dimension else None
            yield (
                fact["key"],
                fact["case__key"],
                fact["model__key"],
                fact["model__family"],
                fact["condition"],
                fact["case__malignant"],
                fact["case__rare"],
                fact["synthetic"],
                *per_dimension,
                overall,
            )

    return columns, rows()


class _Echo:
    def write(self, value: str) -> str:
        return value


def _in_blocks(lines: Iterable[str], size: int = 1000) -> Iterator[bytes]:
    """Join text lines into blocks of ``size`` so the response is written in a few large chunks."""
    block: list[str] = []
    for line in lines:
        block.append(line)
        if len(block) >= size:
            yield "".join(block).encode()
            block.clear()
    if block:
        yield "".join(block).encode()


def stream_csv(columns: Iterable[str], rows: Iterable[tuple], meta: dict) -> Iterator[bytes]:
    """CSV with the file-level provenance as two trailing columns on every row (readers keep them)."""
    writer = csv.writer(_Echo())
    tail = (meta["app_version"], meta["exported_at"])
    yield writer.writerow([*columns, "app_version", "exported_at"]).encode()
    yield from _in_blocks(writer.writerow([*row, *tail]) for row in rows)


def stream_jsonl(columns: Iterable[str], rows: Iterable[tuple], meta: dict) -> Iterator[bytes]:
    """JSON Lines: the first line is ``{"provenance": {...}}``, then one object per row."""
    columns = tuple(columns)
    yield (json.dumps({"provenance": meta}) + "\n").encode()
    yield from _in_blocks(json.dumps(dict(zip(columns, row, strict=True)), default=str) + "\n" for row in rows)


def write_parquet(columns: Iterable[str], rows: Iterable[tuple], meta: dict, sink) -> int:
    """Parquet in row groups of PARQUET_ROW_GROUP rows; provenance in the file's key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = tuple(columns)
    writer = None
    count = 0
    buffer: list[tuple] = []

    def flush() -> None:
        nonlocal writer
        if buffer:
            table = pa.table(
                dict(zip(columns, (pa.array(values) for values in zip(*buffer, strict=True)), strict=True))
            )
        else:
            table = pa.table({column: pa.array([], type=pa.null()) for column in columns})
        if writer is None:
            schema = table.schema.with_metadata({"imcbench.provenance": json.dumps(meta)})
            writer = pq.ParquetWriter(sink, schema, compression="zstd")
        writer.write_table(table.cast(writer.schema))
        buffer.clear()

    for row in rows:
        buffer.append(row)
        count += 1
        if len(buffer) >= PARQUET_ROW_GROUP:
            flush()
    if buffer or writer is None:
        flush()
    writer.close()
    return count


def stream_parquet(columns, rows, meta) -> Iterator[bytes]:
    """Parquet needs its footer last: write to a spooled temporary file, then stream that file in chunks."""
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as spool:
        write_parquet(columns, rows, meta, spool)
        spool.seek(0)
        while chunk := spool.read(1024 * 1024):
            yield chunk


def stream(fmt: str, columns, rows, meta) -> Iterator[bytes]:
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    return {"csv": stream_csv, "jsonl": stream_jsonl, "parquet": stream_parquet}[fmt](columns, rows, meta)


def to_bytes(fmt: str, columns, rows, meta) -> bytes:
    return b"".join(stream(fmt, columns, rows, meta))


class ExportNotFound(ValueError):
    """The export kind or the campaign it names does not exist."""


@dataclass
class ExportSource:
    """What one export writes: its columns, its rows (a one-shot iterator), its provenance and how many rows."""

    columns: tuple[str, ...]
    rows: Iterator[tuple]
    meta: dict
    total: int


def score_campaigns() -> tuple[list[tuple[str, str]], list[dict]]:
    """Which campaigns' calibrated scores can be exported now (a saved calibration, or enough to fit one), as
    (key, name); and the others, each with why not and what to do."""
    ready, not_ready = [], []
    saved = set(CalibrationArtifact.objects.values_list("campaign_id", flat=True))
    for campaign in Campaign.objects.order_by("key"):
        problem = None if campaign.pk in saved else calibration_readiness(campaign=campaign)
        if problem is None:
            ready.append((campaign.key, campaign.name))
        else:
            not_ready.append({"key": campaign.key, "name": campaign.name, "problem": problem})
    return ready, not_ready


def export_source(*, kind: str, campaign_key: str | None = None) -> ExportSource:
    """Columns, rows, provenance and row count of one export kind (``judgements``, ``annotations``, ``scores``).

    Calibrated scores use the campaign's latest saved calibration artefact, or a calibration fitted now (said so
    in the provenance) when none is saved. Raises :class:`ExportNotFound` for an unknown kind or campaign and
    ``ValueError`` when the export cannot be made (scores without a campaign, a campaign that cannot calibrate).
    """
    if kind not in KINDS:
        raise ExportNotFound(f"No export {kind!r}; choose one of {', '.join(KINDS)}")
    campaign = None
    if campaign_key:
        campaign = Campaign.objects.filter(key=campaign_key).first()
        if campaign is None:
            raise ExportNotFound(f"No campaign {campaign_key!r}")
    if kind == "judgements":
        judgements = Judgement.objects.all()
        columns, rows = judgement_rows(judgements)
        return ExportSource(columns, rows, provenance(kind=kind), judgements.count())
    if kind == "annotations":
        annotations = Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        if campaign is not None:
            annotations = annotations.filter(campaign=campaign)
        columns, rows = annotation_rows(annotations)
        return ExportSource(columns, rows, provenance(kind=kind, campaign=campaign_key), annotations.count())
    if campaign is None:
        raise ValueError("calibrated scores need ?campaign=<key>: the campaign whose clinicians calibrate the jury")
    return _score_source(campaign)


def _score_source(campaign) -> ExportSource:

    artifact = CalibrationArtifact.objects.filter(campaign=campaign).order_by("-version").first()
    if artifact is not None:
        fitted = fitted_from_artifact(artifact)
        calibration = {
            "calibration_version": artifact.version,
            "calibration_inputs_hash": artifact.inputs_hash,
            "methods": artifact.methods,
        }
    else:
        result = calibrate_campaign(campaign=campaign)
        fitted = {dimension: report.calibration for dimension, report in result.reports.items()}
        calibration = {
            "calibration_version": None,
            "calibration_inputs_hash": result.inputs_hash,
            "methods": {dimension: report.chosen for dimension, report in result.reports.items()},
            "calibration_note": "fitted at export time; no calibration of this campaign is saved",
        }
    scores = calibrated_scores(fitted=fitted)
    columns, rows = score_rows(scores=scores, dimensions=dimensions_of(campaign))
    meta = provenance(
        kind="scores",
        calibration_campaign=campaign.key,
        **calibration,
        judges=sorted({judge for model in fitted.values() for judge in model.judges}),
        estimator=SCORE_ESTIMATOR,
    )
    return ExportSource(columns, rows, meta, len(scores))


def counted(rows: Iterable[tuple], *, every: int, report: Callable[[int], None]) -> Iterator[tuple]:
    """Pass rows through, calling ``report(rows so far)`` every ``every`` rows and once at the end."""
    count = 0
    for row in rows:
        yield row
        count += 1
        if count % every == 0:
            report(count)
    report(count)


def write_file(
    *, fmt: str, source: ExportSource, path, on_rows: Callable[[int], None] | None = None, every: int = CHUNK
) -> tuple[int, int, str]:
    """Write one export to a new file at ``path`` (never an existing one); returns (rows, bytes, SHA-256).

    ``on_rows`` is called with the number of rows written so far every ``every`` rows and at the end.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    written = 0

    def report(count: int) -> None:
        nonlocal written
        written = count
        if on_rows is not None:
            on_rows(count)

    rows = counted(source.rows, every=every, report=report)
    with open(path, "xb") as handle:
        if fmt == "parquet":
            write_parquet(source.columns, rows, source.meta, handle)
        else:
            for chunk in stream(fmt, source.columns, rows, source.meta):
                handle.write(chunk)
        size = handle.tell()
    return written, size, file_sha256(path)


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()
