"""The leaderboard of a campaign's latest calibration, computed live or published as a frozen snapshot.

:func:`leaderboard_payload` applies a saved :class:`~jury.models.CalibrationArtifact` to every judged
conversation and ranks models and families (``jury.statistics.leaderboard``: case-bootstrap 95 % intervals and rank
intervals, subgroup and ablation deltas). Everything is seeded, so the same artefact and the same judgements give
the same payload. :func:`publish_leaderboard` stores it as a :class:`~jury.models.LeaderboardSnapshot`, keyed by
its inputs: publishing the same inputs again returns the existing snapshot.
"""

import hashlib
import json
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from annotation.models import AuditEvent, Campaign
from jury import selectors
from jury.models import CalibrationArtifact, Judgement, LeaderboardSnapshot
from jury.results.calibration import calibrated_scores, dimensions_of, fitted_from_artifact, json_safe, leaderboard_data
from jury.results.inputs import conversation_facts
from jury.results.provenance import app_version
from jury.statistics import leaderboard as leaderboard_stats

PAYLOAD_FORMAT = "imcbench-leaderboard"
PAYLOAD_VERSION = 1
CONDITION = "full"
N_RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0


class NoCalibration(LookupError):
    """The campaign has no saved calibration, so there is no leaderboard to compute."""


def canonical_hash(value) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no whitespace) of ``value``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _judge_keys(artifact: CalibrationArtifact) -> list[str]:
    fitted = fitted_from_artifact(artifact)
    return sorted({column.split("|", 1)[0] for model in fitted.values() for column in model.judges})


def _used_judgements(*, artifact: CalibrationArtifact, dimensions: list[str]):
    return Judgement.objects.filter(
        status=Judgement.Status.SCORED,
        score__isnull=False,
        dimension__in=dimensions,
        judge__key__in=_judge_keys(artifact),
    )


def judgement_set_hash(*, artifact: CalibrationArtifact, dimensions: list[str]) -> str:
    """SHA-256 over the id and score of every scored judgement the calibrated jury reads, in id order."""
    digest = hashlib.sha256()
    rows = _used_judgements(artifact=artifact, dimensions=dimensions).order_by("pk").values_list("pk", "score")
    for pk, score in rows.iterator(chunk_size=10_000):
        digest.update(f"{pk}:{score};".encode())
    return digest.hexdigest()


def _inputs(*, artifact: CalibrationArtifact, judgements_hash: str) -> dict:
    return {
        "format": PAYLOAD_FORMAT,
        "format_version": PAYLOAD_VERSION,
        "calibration": artifact.pk,
        "calibration_inputs_hash": artifact.inputs_hash,
        "judgement_set_hash": judgements_hash,
        "condition": CONDITION,
        "n_resamples": N_RESAMPLES,
        "confidence": CONFIDENCE,
        "seed": SEED,
    }


def _standing(standing: leaderboard_stats.Standing) -> dict:
    return {
        "mean": standing.mean.as_dict(),
        "rank": standing.rank,
        "rank_interval": list(standing.rank_interval) if standing.rank_interval else None,
        "n_conversations": standing.n_conversations,
        "n_cases": standing.n_cases,
    }


def _table(board: leaderboard_stats.Leaderboard, *, kind: str, extra: dict[str, dict]) -> list[dict]:
    """One row per model (or family), best overall rank first, with every column's standing."""
    by_name: dict[str, dict] = {}
    for standing in board.standings:
        if standing.kind == kind:
            by_name.setdefault(standing.name, {})[standing.dimension] = _standing(standing)
    first = board.dimensions[0]
    rows = [
        {
            "name": name,
            **extra.get(name, {}),
            "rank": cells[first]["rank"],
            "rank_interval": cells[first]["rank_interval"],
            "scores": cells,
        }
        for name, cells in by_name.items()
    ]
    return sorted(rows, key=lambda row: (row["rank"], row["name"]))


def _deltas(compute) -> dict:
    """Every Δ of one contrast (per model and the mean over models), or why it cannot be computed."""
    try:
        return {"deltas": [delta.as_dict() for delta in compute()]}
    except ValueError as error:
        return {"problem": str(error)}


def leaderboard_payload(*, campaign: Campaign, artifact: CalibrationArtifact) -> dict:
    """The full leaderboard of ``artifact`` applied to every judged conversation (deterministic, JSON-safe).

    Raises ValueError when it cannot be computed (no judged conversation, none under the full condition).

    It is long because it writes down every input and figure a frozen snapshot must keep, field by field, so that
    the payload reads as its own schema.
    """
    dimensions = dimensions_of(campaign)
    scores = calibrated_scores(fitted=fitted_from_artifact(artifact))
    if not scores:
        raise ValueError(f"No conversation has judgements the calibration of {campaign.key!r} can score.")
    data = leaderboard_data(scores=scores, dimensions=dimensions)
    board = leaderboard_stats.leaderboard(
        data, condition=CONDITION, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=SEED
    )
    facts = conversation_facts(conversation_ids=list(scores))
    models = {
        fact["model__name"]: {"key": fact["model__key"], "family": fact["model__family"]} for fact in facts.values()
    }
    synthetic = any(fact["synthetic"] for fact in facts.values())
    simulated = (
        _used_judgements(artifact=artifact, dimensions=dimensions)
        .filter(Q(simulated=True) | Q(judge__provider="simulated"))
        .exists()
    )
    notices = [
        *(["synthetic demo conversations, not real model output"] if synthetic else []),
        *(["scored by simulated judges"] if simulated else []),
    ]

    def subgroup(tag: str):
        return lambda: leaderboard_stats.subgroup_deltas(
            data, subgroup=tag, condition=CONDITION, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=SEED
        )

    payload = {
        "format": PAYLOAD_FORMAT,
        "format_version": PAYLOAD_VERSION,
        "campaign": {"key": campaign.key, "name": campaign.name},
        "calibration": {
            "id": artifact.pk,
            "version": artifact.version,
            "inputs_hash": artifact.inputs_hash,
            "seed": artifact.seed,
            "methods": artifact.methods,
        },
        "condition": CONDITION,
        "dimensions": list(dimensions),
        "columns": list(board.dimensions),
        "bootstrap": {
            "unit": "case",
            "interval": "percentile",
            "n_resamples": N_RESAMPLES,
            "confidence": CONFIDENCE,
            "seed": SEED,
        },
        "n_conversations": len(scores),
        "n_cases": board.n_cases,
        "labels": {"synthetic": synthetic, "simulated": simulated, "notices": notices},
        "models": _table(board, kind="model", extra=models),
        "families": _table(board, kind="family", extra={}),
        "subgroups": {tag: _deltas(subgroup(tag)) for tag in ("malignant", "rare")},
        "ablations": _deltas(
            lambda: leaderboard_stats.ablation_deltas(data, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=SEED)
        ),
    }
    return json_safe(payload)


def _latest_calibration(campaign: Campaign) -> CalibrationArtifact:
    artifact = selectors.latest_calibration(campaign=campaign)
    if artifact is None:
        raise NoCalibration(
            f"Campaign {campaign.key!r} has no saved calibration: save one on its calibration page first."
        )
    return artifact


def live_leaderboard(*, campaign: Campaign) -> dict:
    """The leaderboard of the campaign's latest saved calibration, now, with its provenance.

    Raises :class:`NoCalibration` when no calibration is saved, ValueError when it cannot be computed.
    """
    artifact = _latest_calibration(campaign)
    dimensions = dimensions_of(campaign)
    judgements_hash = judgement_set_hash(artifact=artifact, dimensions=dimensions)
    payload = leaderboard_payload(campaign=campaign, artifact=artifact)
    inputs_hash = canonical_hash(_inputs(artifact=artifact, judgements_hash=judgements_hash))
    published = LeaderboardSnapshot.objects.filter(inputs_hash=inputs_hash).values_list("pk", flat=True).first()
    return {
        **payload,
        "provenance": {
            "app": "IMCBench Studio",
            "app_version": app_version(),
            "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "judgement_set_hash": judgements_hash,
            "inputs_hash": inputs_hash,
            "content_hash": canonical_hash(payload),
            "published_snapshot": published,
        },
    }


def publish_leaderboard(*, campaign: Campaign, user) -> tuple[LeaderboardSnapshot, bool]:
    """Freeze the leaderboard of the campaign's latest calibration; the same inputs return the stored snapshot.

    Returns ``(snapshot, created)``. Raises :class:`NoCalibration` or ValueError as :func:`live_leaderboard`.
    """
    artifact = _latest_calibration(campaign)
    dimensions = dimensions_of(campaign)
    judgements_hash = judgement_set_hash(artifact=artifact, dimensions=dimensions)
    inputs_hash = canonical_hash(_inputs(artifact=artifact, judgements_hash=judgements_hash))
    existing = LeaderboardSnapshot.objects.filter(inputs_hash=inputs_hash).first()
    if existing is not None:
        return existing, False
    payload = leaderboard_payload(campaign=campaign, artifact=artifact)
    try:
        with transaction.atomic():
            snapshot = LeaderboardSnapshot.objects.create(
                campaign=campaign,
                calibration=artifact,
                inputs_hash=inputs_hash,
                judgement_set_hash=judgements_hash,
                content_hash=canonical_hash(payload),
                payload=payload,
                n_conversations=payload["n_conversations"],
                synthetic=payload["labels"]["synthetic"],
                simulated=payload["labels"]["simulated"],
                app_version=app_version(),
                created_by=user,
            )
            AuditEvent.objects.create(
                actor=user,
                action="publish_leaderboard",
                target=f"{campaign.key} snapshot {snapshot.pk}",
                details={"calibration_version": artifact.version, "content_hash": snapshot.content_hash},
            )
    except IntegrityError:  # published by someone else a moment ago
        return LeaderboardSnapshot.objects.get(inputs_hash=inputs_hash), False
    return snapshot, True
