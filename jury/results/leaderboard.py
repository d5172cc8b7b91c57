"""The leaderboard of a campaign's latest calibration, computed live or published as a frozen snapshot.

:func:`leaderboard_payload` applies a saved :class:`~jury.models.CalibrationArtifact` to every judged
conversation and ranks models and families by three estimators (:mod:`jury.results.inference`): the
prediction-powered estimate (``estimates[column]["ppi"]``, which also orders the rows and gives ``rank``), the
clinicians-only and the jury-only one, with n's and effective sample sizes, and the PPI subgroup and ablation Δ
under ``inference``; ``estimator`` records what they are and how the calibration is refitted. The jury-only
standings of before (``scores``, ``subgroups``, ``ablations``: calibration held fixed) are kept beside them.
Everything is seeded, so the same artefact and the same judgements give
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
from jury.results.inference import ESTIMATOR, Inference, campaign_inference, clinician_set_hash
from jury.results.inputs import conversation_facts
from jury.results.provenance import app_version
from jury.statistics import leaderboard as leaderboard_stats

PAYLOAD_FORMAT = "imcbench-leaderboard"
PAYLOAD_VERSION = 2
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


def _inputs(*, artifact: CalibrationArtifact, judgements_hash: str, clinicians_hash: str) -> dict:
    return {
        "format": PAYLOAD_FORMAT,
        "format_version": PAYLOAD_VERSION,
        "estimator": ESTIMATOR,
        "calibration": artifact.pk,
        "calibration_inputs_hash": artifact.inputs_hash,
        "judgement_set_hash": judgements_hash,
        "clinician_set_hash": clinicians_hash,
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


def _estimate(estimate) -> dict:
    out = estimate.as_dict()
    for key in ("name", "kind", "dimension"):
        out.pop(key)
    return out


def _table(board: leaderboard_stats.Leaderboard, ppi, *, kind: str, extra: dict[str, dict]) -> list[dict]:
    """One row per model (or family), best overall PPI rank first (undefined last), with every column's three
    estimates and its jury-only standing."""
    by_name: dict[str, dict] = {}
    for standing in board.standings:
        if standing.kind == kind:
            by_name.setdefault(standing.name, {})[standing.dimension] = _standing(standing)
    estimates: dict[str, dict] = {}
    for estimate in ppi.estimates:
        if estimate.kind == kind:
            estimates.setdefault(estimate.name, {})[estimate.dimension] = _estimate(estimate)
    first = ppi.dimensions[0]
    rows = []
    for name, cells in by_name.items():
        overall = estimates[name][first]
        rows.append(
            {
                "name": name,
                **extra.get(name, {}),
                "rank": overall["rank"],
                "rank_interval": overall["rank_interval"],
                "n_clinician": overall["n_clinician"],
                "n_jury": overall["n_jury"],
                "ess_ppi": overall["ess_ppi"],
                "estimates": estimates[name],
                "scores": cells,
            }
        )
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["scores"][first]["rank"], r["name"]))


def _deltas(compute) -> dict:
    """Every Δ of one contrast (per model and the mean over models), or why it cannot be computed."""
    try:
        return {"deltas": [delta.as_dict() for delta in compute()]}
    except ValueError as error:
        return {"problem": str(error)}


def _inference(inference: Inference) -> dict:
    """The PPI Δ (with the clinicians-only and jury-only Δ beside) of the subgroups and ablations."""

    def subgroup(tag: str):
        return lambda: inference.subgroup_deltas(subgroup=tag, condition=CONDITION)

    return {
        "subgroups": {tag: _deltas(subgroup(tag)) for tag in ("malignant", "rare")},
        "ablations": _deltas(lambda: inference.ablation_deltas(conditions=("no_image", "no_ehr"))),
    }


def _calibration(artifact: CalibrationArtifact) -> dict:
    return {
        "id": artifact.pk,
        "version": artifact.version,
        "inputs_hash": artifact.inputs_hash,
        "seed": artifact.seed,
        "methods": artifact.methods,
    }


def _labels(facts: dict, *, artifact: CalibrationArtifact, dimensions: list[str]) -> dict:
    """Whether the payload rests on synthetic conversations or simulated judges, and the notices saying so."""
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
    return {"synthetic": synthetic, "simulated": simulated, "notices": notices}


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
    inference = campaign_inference(
        campaign=campaign, dimensions=dimensions, fitted=fitted_from_artifact(artifact), n_resamples=N_RESAMPLES,
        confidence=CONFIDENCE, seed=SEED,
    )  # fmt: skip
    ppi = inference.leaderboard(condition=CONDITION)
    facts = conversation_facts(conversation_ids=list(scores))
    models = {
        fact["model__name"]: {"key": fact["model__key"], "family": fact["model__family"]} for fact in facts.values()
    }
    labels = _labels(facts, artifact=artifact, dimensions=dimensions)

    def subgroup(tag: str):
        return lambda: leaderboard_stats.subgroup_deltas(
            data, subgroup=tag, condition=CONDITION, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=SEED
        )

    payload = {
        "format": PAYLOAD_FORMAT,
        "format_version": PAYLOAD_VERSION,
        "campaign": {"key": campaign.key, "name": campaign.name},
        "calibration": _calibration(artifact),
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
        "labels": labels,
        "estimator": inference.estimator(),
        "models": _table(board, ppi, kind="model", extra=models),
        "families": _table(board, ppi, kind="family", extra={}),
        "inference": _inference(inference),
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
    clinicians_hash = clinician_set_hash(campaign=campaign, dimensions=dimensions)
    payload = leaderboard_payload(campaign=campaign, artifact=artifact)
    inputs_hash = canonical_hash(
        _inputs(artifact=artifact, judgements_hash=judgements_hash, clinicians_hash=clinicians_hash)
    )
    published = LeaderboardSnapshot.objects.filter(inputs_hash=inputs_hash).values_list("pk", flat=True).first()
    return {
        **payload,
        "provenance": {
            "app": "IMCBench Studio",
            "app_version": app_version(),
            "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "judgement_set_hash": judgements_hash,
            "clinician_set_hash": clinicians_hash,
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
    clinicians_hash = clinician_set_hash(campaign=campaign, dimensions=dimensions)
    inputs_hash = canonical_hash(
        _inputs(artifact=artifact, judgements_hash=judgements_hash, clinicians_hash=clinicians_hash)
    )
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


def snapshot_deltas(board: dict) -> list[dict]:
    """The mean-over-models Δ rows of a payload: by the three estimators when it has them (``inference``), else
    the jury-only Δ of a snapshot published before; a contrast that could not be computed gives its problem."""
    source = board.get("inference") or board
    contrasts = [(f"{tag} − rest", result) for tag, result in source["subgroups"].items()]
    contrasts.append(("ablations", source["ablations"]))
    return [
        row
        for label, result in contrasts
        for row in (
            [{"label": label, "problem": result["problem"]}]
            if "problem" in result
            else [delta for delta in result["deltas"] if delta["model"] is None]
        )
    ]
