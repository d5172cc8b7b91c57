"""Reads that feed the pure calibration and leaderboard modules: judgement matrices, clinician targets, cases."""

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from annotation.models import Adjudication, Annotation, Campaign, Conversation
from jury.models import Judgement


@dataclass
class DimensionData:
    """One dimension's judge scores for a set of conversations (NaN where a judge-prompt gave none)."""

    dimension: str
    conversation_ids: list[int]
    judges: list[str]  # "judge-key|prompt-key@version"
    scores: np.ndarray  # conversations × judges
    judgement_ids: list[int] = field(default_factory=list)


def judge_column(judge_key: str, prompt_reference: str) -> str:
    return f"{judge_key}|{prompt_reference}"


def column_judge(column: str) -> str:
    """The judge key of a :func:`judge_column`."""
    return column.split("|", 1)[0]


def judgement_matrix(*, dimension: str, conversation_ids: list[int] | None = None) -> DimensionData:
    """Scored judgements of one dimension as a conversations × judge-prompt matrix (samples averaged)."""
    judgements = Judgement.objects.filter(dimension=dimension, status=Judgement.Status.SCORED, score__isnull=False)
    if conversation_ids is not None:
        judgements = judgements.filter(conversation_id__in=conversation_ids)
    rows = list(
        judgements.values_list("pk", "conversation_id", "judge__key", "prompt__key", "prompt__version", "score")
    )
    sums: dict[tuple[int, str], list[float]] = defaultdict(list)
    for _, conversation_id, judge_key, prompt_key, version, score in rows:
        sums[(conversation_id, judge_column(judge_key, f"{prompt_key}@{version}"))].append(score)
    ids = sorted(conversation_ids if conversation_ids is not None else {key[0] for key in sums})
    judges = sorted({key[1] for key in sums})
    row_of = {cid: i for i, cid in enumerate(ids)}
    col_of = {name: j for j, name in enumerate(judges)}
    matrix = np.full((len(ids), len(judges)), np.nan)
    for (conversation_id, name), values in sums.items():
        matrix[row_of[conversation_id], col_of[name]] = float(np.mean(values))
    return DimensionData(dimension, ids, judges, matrix, sorted(row[0] for row in rows))


@dataclass
class ClinicianTargets:
    """Per conversation of a campaign: the clinicians' scores and the target (adjudicated score, else the mean)."""

    conversation_ids: list[int]
    clinicians: list[str]
    ratings: dict[str, np.ndarray]  # dimension -> conversations × clinicians
    target: dict[str, np.ndarray]  # dimension -> conversations
    annotation_ids: list[int]


def clinician_targets(*, campaign: Campaign, dimensions: list[str]) -> ClinicianTargets:
    annotations = list(
        Annotation.objects.filter(campaign=campaign, status=Annotation.Status.SUBMITTED).values_list(
            "pk", "conversation_id", "annotator__username", "scores"
        )
    )
    ids = sorted({row[1] for row in annotations})
    clinicians = sorted({row[2] for row in annotations})
    row_of = {cid: i for i, cid in enumerate(ids)}
    col_of = {name: j for j, name in enumerate(clinicians)}
    ratings = {d: np.full((len(ids), len(clinicians)), np.nan) for d in dimensions}
    for _, conversation_id, username, scores in annotations:
        for dimension in dimensions:
            if dimension in scores:
                ratings[dimension][row_of[conversation_id], col_of[username]] = scores[dimension]
    target = {}
    adjudicated = dict(Adjudication.objects.filter(campaign=campaign).values_list("conversation_id", "scores"))
    for dimension in dimensions:
        with np.errstate(invalid="ignore"):
            values = np.nanmean(ratings[dimension], axis=1) if clinicians else np.empty(0)
        for conversation_id, scores in adjudicated.items():
            if conversation_id in row_of and dimension in scores:
                values[row_of[conversation_id]] = scores[dimension]
        target[dimension] = values
    return ClinicianTargets(ids, clinicians, ratings, target, sorted(row[0] for row in annotations))


def conversation_facts(*, conversation_ids: list[int] | None = None) -> dict[int, dict]:
    """Case, model, family, condition and tags per conversation, for grouping and the leaderboard."""
    conversations = Conversation.objects.all()
    if conversation_ids is not None:
        conversations = conversations.filter(pk__in=conversation_ids)
    return {
        row["pk"]: row
        for row in conversations.values(
            "pk",
            "key",
            "case__key",
            "model__key",
            "model__name",
            "model__family",
            "condition",
            "case__malignant",
            "case__rare",
            "case__modality",
            "case__specialty",
            "synthetic",
        )
    }
