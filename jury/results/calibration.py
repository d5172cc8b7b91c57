"""Calibrating the jury against a campaign's clinicians, and applying the calibration to every conversation."""

import hashlib
import json
import warnings
from dataclasses import dataclass

import numpy as np

from annotation.models import Annotation, AuditEvent, Campaign
from jury.models import CalibrationArtifact, Judge, Judgement
from jury.results.inputs import clinician_targets, conversation_facts, judgement_matrix
from jury.results.provenance import app_version
from jury.statistics import calibration
from jury.statistics import leaderboard as leaderboard_stats


@dataclass
class CampaignCalibration:
    campaign: Campaign
    reports: dict[str, calibration.CalibrationReport]
    judgement_ids: list[int]
    annotation_ids: list[int]

    @property
    def inputs_hash(self) -> str:
        """SHA-256 of exactly which judgements and annotations were used."""
        payload = json.dumps({"judgements": self.judgement_ids, "annotations": self.annotation_ids})
        return hashlib.sha256(payload.encode()).hexdigest()

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign.key,
            "inputs_hash": self.inputs_hash,
            "n_judgements": len(self.judgement_ids),
            "n_annotations": len(self.annotation_ids),
            "dimensions": {d: report.as_dict() for d, report in self.reports.items()},
        }


MIN_CONVERSATIONS = 10  # clinician-scored conversations a calibration needs …
MIN_CASES = 5  # … spread over this many cases, one per cross-validation fold at least


class NotReady(ValueError):
    """A campaign too thin to calibrate; the message says, in words, what is missing and what to do."""


def calibration_readiness(*, campaign: Campaign) -> str | None:
    """Why the campaign cannot calibrate yet, and what to do about it; None when it has enough to try."""
    scored = Annotation.objects.filter(campaign=campaign, status=Annotation.Status.SUBMITTED)
    conversation_ids = set(scored.values_list("conversation_id", flat=True))
    n_cases = scored.values("conversation__case").distinct().count()
    need = f"calibration needs at least {MIN_CONVERSATIONS} across {MIN_CASES} cases"
    if not conversation_ids:
        return (
            f"Campaign “{campaign.name}” has no submitted clinician annotations to calibrate against yet; {need}. "
            f"Ask its clinicians to score conversations in campaign “{campaign.name}”."
        )
    if len(conversation_ids) < MIN_CONVERSATIONS or n_cases < MIN_CASES:
        return (
            f"Only {len(conversation_ids)} conversation{'s' if len(conversation_ids) != 1 else ''} in {n_cases} "
            f"case{'s' if n_cases != 1 else ''} {'have' if len(conversation_ids) != 1 else 'has'} clinician scores; "
            f"{need}. Ask clinicians to score more in campaign “{campaign.name}”."
        )
    judged = Judgement.objects.filter(conversation_id__in=conversation_ids, status=Judgement.Status.SCORED)
    n_judged = judged.values("conversation_id").distinct().count()
    judged_cases = judged.values("conversation__case").distinct().count()
    if n_judged < MIN_CONVERSATIONS or judged_cases < MIN_CASES:
        return (
            f"The jury has scored {n_judged} of the {len(conversation_ids)} clinician-scored conversations of campaign "
            f"“{campaign.name}” ({judged_cases} case{'s' if judged_cases != 1 else ''}); {need}. Start a jury run "
            f"over the campaign’s conversations on the Jury page."
        )
    return None


def judgements_missing(*, campaign: Campaign) -> bool:
    """Whether the jury has yet to score some of the campaign's clinician-scored conversations."""
    scored = Annotation.objects.filter(campaign=campaign, status=Annotation.Status.SUBMITTED)
    return scored.exclude(conversation__judgements__status=Judgement.Status.SCORED).exists()


def dimensions_of(campaign: Campaign) -> list[str]:
    return list(campaign.rubric.dimensions.order_by("position").values_list("key", flat=True))


def calibrate_campaign(*, campaign: Campaign, seed: int = 0, n_folds: int = 5) -> CampaignCalibration:
    """Cross-validate every method per dimension on the campaign's clinician-scored conversations.

    Raises NotReady, its message in words, when the campaign is too thin (see ``calibration_readiness``), and
    ValueError from the pure module when the data still cannot be cross-validated.
    """
    problem = calibration_readiness(campaign=campaign)
    if problem is not None:
        raise NotReady(problem)
    dimensions = dimensions_of(campaign)
    targets = clinician_targets(campaign=campaign, dimensions=dimensions)
    facts = conversation_facts(conversation_ids=targets.conversation_ids)
    groups = np.array([facts[cid]["case__key"] for cid in targets.conversation_ids])
    reports, judgement_ids = {}, []
    for dimension in dimensions:
        data = judgement_matrix(dimension=dimension, conversation_ids=targets.conversation_ids)
        if not data.judges:
            raise NotReady(
                f"The jury has not scored {dimension} on the clinician-scored conversations of campaign "
                f"“{campaign.name}”. Start a jury run with a {dimension} prompt on the Jury page."
            )
        reports[dimension] = calibration.cross_validate(
            data.scores,
            targets.target[dimension],
            groups,
            judges=data.judges,
            clinician_ratings=targets.ratings[dimension],
            n_folds=min(n_folds, len(set(groups))),
            seed=seed,
            dimension=dimension,
        )
        judgement_ids.extend(data.judgement_ids)
    return CampaignCalibration(campaign, reports, sorted(judgement_ids), targets.annotation_ids)


def calibrated_scores(*, fitted: dict[str, calibration.Calibration]) -> dict[int, dict[str, float]]:
    """Every conversation's calibrated score per dimension (conversations with no judgement are left out)."""
    scores: dict[int, dict[str, float]] = {}
    for dimension, model in fitted.items():
        data = judgement_matrix(dimension=dimension)
        if not data.conversation_ids:
            continue
        columns = [data.judges.index(j) if j in data.judges else None for j in model.judges]
        matrix = np.column_stack(
            [data.scores[:, c] if c is not None else np.full(len(data.conversation_ids), np.nan) for c in columns]
        )
        for conversation_id, value in zip(data.conversation_ids, model.predict(matrix), strict=True):
            if not np.isnan(value):
                scores.setdefault(conversation_id, {})[dimension] = float(value)
    return scores


def leaderboard_data(*, scores: dict[int, dict[str, float]], dimensions: list[str]):
    """The calibrated scores with each conversation's case, model, family, condition and tags."""
    facts = conversation_facts(conversation_ids=list(scores))
    ids = sorted(scores)
    return leaderboard_stats.Conversations.build(
        case=[facts[i]["case__key"] for i in ids],
        model=[facts[i]["model__name"] for i in ids],
        family=[facts[i]["model__family"] for i in ids],
        condition=[facts[i]["condition"] for i in ids],
        scores=np.array([[scores[i].get(d, np.nan) for d in dimensions] for i in ids]),
        dimensions=dimensions,
        tags=[
            {
                tag
                for tag, present in (("malignant", facts[i]["case__malignant"]), ("rare", facts[i]["case__rare"]))
                if present
            }
            for i in ids
        ],
    )


def save_calibration(*, campaign: Campaign, actor=None, seed: int = 0, result: CampaignCalibration | None = None):
    """Fit and store a calibration artefact; the same inputs and seed return the stored one unchanged.

    ``result``: the campaign's calibration already fitted with this seed on its current inputs (the calibration
    page's cached one), so that saving does not fit it again. Returns ``(artifact, created)``.
    """
    from django.db import transaction
    from django.db.models import Max

    if result is None:
        result = calibrate_campaign(campaign=campaign, seed=seed)
    existing = CalibrationArtifact.objects.filter(campaign=campaign, inputs_hash=result.inputs_hash, seed=seed).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        latest = CalibrationArtifact.objects.select_for_update().filter(campaign=campaign).aggregate(v=Max("version"))
        artifact = CalibrationArtifact.objects.create(
            campaign=campaign,
            version=(latest["v"] or 0) + 1,
            inputs_hash=result.inputs_hash,
            seed=seed,
            methods={d: r.chosen for d, r in result.reports.items()},
            report=json_safe(result.as_dict()),
            judgement_ids=result.judgement_ids,
            annotation_ids=result.annotation_ids,
            app_version=app_version(),
            created_by=actor,
        )
        AuditEvent.objects.create(
            actor=actor,
            action="save_calibration",
            target=f"{campaign.key} v{artifact.version}",
            details={"inputs_hash": result.inputs_hash, "methods": artifact.methods},
        )
    return artifact, True


def json_safe(value):
    """The report as plain JSON (NumPy scalars and tuples made native)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def fitted_from_artifact(artifact) -> dict[str, calibration.Calibration]:
    return {
        dimension: calibration.Calibration.from_dict(report["calibration"])
        for dimension, report in artifact.report["dimensions"].items()
    }


def self_preference_rows(*, dimension: str, seed: int = 0) -> list:
    """Per judge on one dimension: its score minus the other judges' mean, own family's models vs the rest.

    Raw judge scores (prompts of one judge averaged) over every judged conversation.
    """

    data = judgement_matrix(dimension=dimension)
    judge_keys = sorted({column.split("|", 1)[0] for column in data.judges})
    if len(judge_keys) < 2:
        raise ValueError("self-preference needs at least two judges")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a conversation none of a judge's prompts scored
        per_judge = np.column_stack(
            [
                np.nanmean(data.scores[:, [i for i, c in enumerate(data.judges) if c.split("|", 1)[0] == key]], axis=1)
                for key in judge_keys
            ]
        )
    families = dict(Judge.objects.filter(key__in=judge_keys).values_list("key", "family"))
    facts = conversation_facts(conversation_ids=data.conversation_ids)
    return leaderboard_stats.self_preference(
        per_judge,
        judges=judge_keys,
        judge_families=[families.get(key) or "" for key in judge_keys],
        case=[facts[i]["case__key"] for i in data.conversation_ids],
        family=[facts[i]["model__family"] for i in data.conversation_ids],
        seed=seed,
    )


def held_out_predictions(*, result: CampaignCalibration, methods: list[str]) -> dict[str, dict]:
    """Per dimension, every cross-validated conversation's clinician target and each method's held-out score.

    Each method is refitted on the folds recorded in the report (``fold_of_case``), so these are the predictions
    its held-out figures were computed from. Returns ``{dimension: {"target": array, "predictions": {method:
    array}}}``, the arrays aligned.
    """
    dimensions = list(result.reports)
    targets = clinician_targets(campaign=result.campaign, dimensions=dimensions)
    facts = conversation_facts(conversation_ids=targets.conversation_ids)
    cases = [facts[cid]["case__key"] for cid in targets.conversation_ids]
    held_out = {}
    for dimension, report in result.reports.items():
        data = judgement_matrix(dimension=dimension, conversation_ids=targets.conversation_ids)
        target = targets.target[dimension]
        folds = np.array([report.fold_of_case.get(case, -1) for case in cases])
        usable = ~np.isnan(target) & (~np.isnan(data.scores)).any(1) & (folds >= 0)
        predictions = {}
        for method in dict.fromkeys(methods):
            predicted = np.full(len(cases), np.nan)
            for fold in range(report.n_folds):
                test, train = usable & (folds == fold), usable & (folds != fold)
                fitted = calibration.fit(data.scores[train], target[train], method=method, judges=data.judges)
                predicted[test] = fitted.predict(data.scores[test])
            predictions[method] = predicted[usable]
        held_out[dimension] = {"target": target[usable], "predictions": predictions}
    return held_out


def case_attributes(*, scores: dict[int, dict[str, float]]) -> dict[str, list[str]]:
    """Each scored conversation's case modality and specialty, in the order of :func:`leaderboard_data`."""
    facts = conversation_facts(conversation_ids=list(scores))
    ids = sorted(scores)
    return {
        "modality": [facts[i]["case__modality"] or "" for i in ids],
        "specialty": [facts[i]["case__specialty"] or "" for i in ids],
    }
