"""Drawing which of a campaign's conversations go to its clinicians, from the jury's scores, under the campaign's
sampling design (:mod:`jury.statistics.selection`), and recording the probability each selected one had."""

import numpy as np

from annotation import services as annotation_services
from annotation.models import Campaign
from jury.results.inference import campaign_conversations
from jury.statistics import selection


def select_for_clinicians(
    *, campaign: Campaign, budget: float, dimensions: list[str], seed: int, actor=None
) -> list[int]:
    """Draw which of the campaign's judged conversations go to its clinicians under its sampling design
    (:mod:`jury.statistics.selection`; ``budget`` the expected number, or a share of them when < 1) and record
    the probability each selected one had, once. Under ``active``, targeted review on ``safety`` (π = 1).
    A campaign with no judged conversation, or a budget the design cannot meet, raises ``ValueError``."""
    found = campaign_conversations(campaign=campaign, dimensions=dimensions, probabilities=False)
    members = set(campaign.conversations.values_list("pk", flat=True))
    rows = np.array([i for i, cid in enumerate(found.conversation_ids) if cid in members], dtype=int)
    if rows.size == 0:
        raise ValueError(f"No conversation of campaign {campaign.name!r} has a jury score to select by.")
    x = found.data.judge_scores[rows]
    design = campaign.sampling_design
    review = None
    if design == Campaign.SamplingDesign.ACTIVE and "safety" in dimensions:
        review = selection.review_mask(x, dimension=dimensions.index("safety"))
    labels = found.data.labels
    stratum = selection.strata(labels.model[rows], labels.condition[rows])
    expected = budget * rows.size if budget < 1 else budget
    pi = selection.selection_probabilities(design, judge_scores=x, budget=expected, stratum=stratum, review=review)
    chosen, pi = selection.draw(pi, seed=seed)
    ids = [found.conversation_ids[i] for i in rows]
    flagged = [] if review is None else [ids[i] for i in chosen if review[i]]
    annotation_services.record_selection(
        campaign=campaign, probabilities={ids[i]: float(pi[i]) for i in chosen}, review=flagged, actor=actor
    )
    return [ids[i] for i in chosen]
