"""A HealthBench-style meta-evaluation file: per conversation and rubric dimension, the conversation, every
clinician's score, their consensus and the jury's calibrated score (when a calibration of the campaign is saved)."""

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from annotation.models import Campaign, Conversation, Turn
from jury.models import CalibrationArtifact
from jury.results.calibration import calibrated_scores, dimensions_of, fitted_from_artifact
from jury.results.inputs import clinician_targets

ROLE_NAMES = {"patient": "user", "assistant": "assistant"}


def meta_evaluation_rows(*, campaign: Campaign):
    """One dict per clinician-scored conversation and dimension; ``calibrated_jury_score`` is null without a
    saved calibration (or when the jury did not score that conversation)."""
    dimensions = dimensions_of(campaign)
    targets = clinician_targets(campaign=campaign, dimensions=dimensions)
    artifact = CalibrationArtifact.objects.filter(campaign=campaign).order_by("-version").first()
    calibrated = calibrated_scores(fitted=fitted_from_artifact(artifact)) if artifact else {}
    messages = defaultdict(list)
    for turn in Turn.objects.filter(conversation_id__in=targets.conversation_ids).order_by("conversation_id", "index"):
        messages[turn.conversation_id].append({"role": ROLE_NAMES[turn.role], "content": turn.content})
    conversations = Conversation.objects.select_related("case", "model").in_bulk(targets.conversation_ids)
    for row, conversation_id in enumerate(targets.conversation_ids):
        conversation = conversations[conversation_id]
        for dimension in dimensions:
            scores = {
                clinician: int(value)
                for clinician, value in zip(targets.clinicians, targets.ratings[dimension][row], strict=True)
                if not np.isnan(value)
            }
            if not scores:
                continue
            consensus = targets.target[dimension][row]
            yield {
                "conversation_id": conversation.key,
                "case": conversation.case.key,
                "model": conversation.model.key,
                "condition": conversation.condition,
                "prompt": messages[conversation_id],
                "rubric_dimension": dimension,
                "clinician_scores": scores,
                "consensus": None if np.isnan(consensus) else float(consensus),
                "calibrated_jury_score": calibrated.get(conversation_id, {}).get(dimension),
                "calibration": f"{campaign.key} v{artifact.version}" if artifact else None,
            }


def export_meta_evaluation(*, campaign: Campaign, out: Path) -> int:
    """Write the rows as JSON Lines to a new file; return how many."""
    count = 0
    with Path(out).open("x", encoding="utf-8") as handle:
        for row in meta_evaluation_rows(campaign=campaign):
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count
