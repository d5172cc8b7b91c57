"""Drawing which of a campaign's conversations go to its clinicians, from the jury's scores, under the campaign's
sampling design (:mod:`jury.statistics.selection`), and recording the probability each selected one had."""

import numpy as np

from annotation import selectors as annotation_selectors
from annotation import services as annotation_services
from annotation.models import Campaign
from jury.results.inference import campaign_conversations
from jury.results.inputs import column_judge
from jury.results.planning import weighted_affine_jury
from jury.statistics import selection


def select_for_clinicians(
    *, campaign: Campaign, budget: float, dimensions: list[str], seed: int, pool: int | None = None, actor=None
) -> list[int]:
    """Draw one batch of the campaign's judged conversations for its clinicians under its sampling design and
    record the probability each selected one had, once.

    The batch is the conversations no earlier draw considered (``pool``: a seeded random ``pool`` of them, so a
    campaign can be drawn in batches), each considered once, so its recorded π is its chance of being selected.
    ``budget`` the expected number sent from the batch, or a share of it when < 1. Under ``stratified`` the strata
    are model × condition (× the campaign's tag); under ``active`` π ∝ √E[r² | x] fitted on the residuals of the
    calibrated jury on the conversations clinicians already scored (:func:`selection.predicted_error`; the
    judges' spread alone before there are any), and targeted review on ``safety`` (π = 1), served most likely
    unsafe first (:func:`selection.unsafe_probability`). A campaign with no
    conversation left to draw, or a budget the design cannot meet, raises ``ValueError``."""
    found = campaign_conversations(campaign=campaign, dimensions=dimensions, probabilities=False)
    members = set(campaign.conversations.values_list("pk", flat=True))
    drawn = annotation_selectors.considered_conversations(campaign=campaign)
    judged = np.array([i for i, cid in enumerate(found.conversation_ids) if cid in members], dtype=int)
    rows = np.array([i for i in judged if found.conversation_ids[i] not in drawn], dtype=int)
    if rows.size == 0:
        raise ValueError(f"No conversation of campaign {campaign.name!r} is left to draw (judged and not yet drawn).")
    if pool is not None:
        if pool < 1:
            raise ValueError(f"pool must be a positive number of conversations; got {pool!r}")
        rows = np.sort(np.random.default_rng(seed).permutation(rows)[:pool])
    data = found.data
    x = data.judge_scores
    labels = data.labels
    design = campaign.sampling_design
    review, error, unsafe = None, None, None
    if design == Campaign.SamplingDesign.ACTIVE:
        y = np.asarray(labels.scores, dtype=float)
        scored = ~np.isnan(y).any(axis=1)
        recorded = annotation_selectors.selection_probabilities(campaign=campaign)
        weight = np.array([1 / recorded.get(cid, 1.0) for cid in found.conversation_ids])
        mean = np.where(scored[:, None], y, 0.0).mean(axis=1)
        calibrated = weighted_affine_jury(x, y, weight)
        residual = np.where(scored, mean - calibrated.mean(axis=1), np.nan)
        error = selection.predicted_error(x, residual=residual, groups=(labels.case, labels.model))[rows]
        if "safety" in dimensions:
            s = dimensions.index("safety")
            judge_of = [column_judge(column) for column in found.judges]
            review = selection.review_mask(x[rows], dimension=s, judge_of=judge_of)
            unsafe = selection.unsafe_probability(calibrated[rows, s], error=error)
    tag = campaign.sampling_tag or None
    stratum = selection.strata(
        labels.model[rows], labels.condition[rows], tags=[labels.tags[i] for i in rows] if tag else None, tag=tag
    )
    expected = budget * rows.size if budget < 1 else budget
    pi = selection.selection_probabilities(
        design, judge_scores=x[rows], budget=expected, stratum=stratum, review=review, error=error
    )
    chosen, pi = selection.draw(pi, seed=seed)
    ids = [found.conversation_ids[i] for i in rows]
    flagged = [] if review is None else [ids[i] for i in chosen if review[i]]
    # Review items are served most likely unsafe first (P(clinicians < 2.5) under the calibrated jury and its
    # expected error), the rest by π.
    priorities = None if unsafe is None else {ids[i]: float(unsafe[i] if review[i] else pi[i]) for i in chosen}
    annotation_services.record_selection(
        campaign=campaign, probabilities={ids[i]: float(pi[i]) for i in chosen}, review=flagged, considered=ids,
        priorities=priorities, actor=actor,
    )  # fmt: skip
    return [ids[i] for i in chosen]
