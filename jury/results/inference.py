"""Prediction-powered leaderboard estimates of a campaign: the clinicians' scores and every judge's raw scores read
from the database, handed to the pure :mod:`jury.statistics.inference`.

Each dimension refits, in every bootstrap resample, the method of the campaign's latest saved calibration
(:func:`refit_scheme`; ``affine`` on the equal jury when none is saved), so the intervals carry the calibration's
uncertainty. The clinicians' figure of a conversation is its adjudicated score, else the mean of its clinicians.
"""

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from annotation.models import Campaign
from annotation.selectors import selection_probabilities
from jury.results.inputs import clinician_targets, conversation_facts, judgement_matrix
from jury.statistics import calibration
from jury.statistics.inference import JuryConversations, ppi_ablation_deltas, ppi_leaderboard, ppi_subgroup_deltas

ESTIMATOR = {"name": "ppi++", "version": 1}
MIN_CLINICIAN = 10
LABELS = {
    "ppi": "PPI (jury + clinicians)",
    "clinicians": "clinicians only",
    "jury": "jury only — ignores calibration error",
}
LEGACY_LABEL = "jury only (recorded before prediction-powered estimates)"

# A saved calibration's method -> the method refitted in every resample, and whose judge weights it combines.
REFIT = {"equal": "equal", "weighted": "affine", "best_single": "affine", "isotonic": "isotonic"}


@dataclass(frozen=True)
class RefitScheme:
    """Per dimension the refitted method and its judge weights (over ``judges``), and a sentence saying so."""

    methods: dict[str, str]
    weights: dict[str, np.ndarray | None]
    saved: dict[str, str]  # the saved calibration's method per dimension ({} when none is saved)

    @property
    def description(self) -> str:
        notes = {
            None: "no calibration saved: the equal jury",
            "equal": "saved equal: the plain jury mean",
            "weighted": "saved weighted: its judge weights held",
            "best_single": "saved best_single: that judge alone",
            "isotonic": "saved isotonic: its judge weights held",
        }
        parts = [f"{d} {method} ({notes[self.saved.get(d)]})" for d, method in self.methods.items()]
        return f"case bootstrap, calibration refitted per resample: {'; '.join(parts)}"

    def as_dict(self) -> dict:
        return {"methods": dict(self.methods), "saved_methods": dict(self.saved), "description": self.description}


def refit_scheme(*, fitted: dict[str, calibration.Calibration] | None, judges: list[str], dimensions) -> RefitScheme:
    """equal -> equal (the plain jury mean); weighted -> affine on its judge weights; best_single -> affine on
    that judge alone (weight 1); isotonic -> isotonic on its judge weights. Without a saved calibration: affine
    on the equal jury. Judge columns the calibration does not know get weight 0."""
    if not fitted:
        return RefitScheme(dict.fromkeys(dimensions, "affine"), dict.fromkeys(dimensions), {})
    methods, weights = {}, {}
    for dimension in dimensions:
        model = fitted[dimension]
        own = dict(zip(model.judges, model.weights, strict=True))
        methods[dimension] = REFIT[model.method]
        weights[dimension] = np.array([own.get(judge, 0.0) for judge in judges])
    return RefitScheme(methods, weights, {d: fitted[d].method for d in dimensions})


@dataclass(frozen=True)
class CampaignConversations:
    """The pure module's input and, aligned with it, each conversation's id and facts."""

    data: JuryConversations
    conversation_ids: list[int]
    facts: list[dict]
    judges: list[str]
    left_out: int = 0  # clinician-scored before the selection was drawn, without a recorded π: not in the estimate


def campaign_conversations(
    *, campaign: Campaign, dimensions: list[str], probabilities: bool = True
) -> CampaignConversations:
    """Every judged conversation: judges × dimensions (samples averaged), the campaign's clinician figure where
    scored (adjudicated first), case, model, family, condition, the malignant / rare tags and, with
    ``probabilities``, the selection probabilities recorded (:func:`recorded_probabilities`).

    A campaign whose clinician scores mix scores from before its selection was drawn (no recorded π) with scores
    of selected conversations: the earlier ones are **left out of the estimate** (their clinician figure is
    treated as missing; ``left_out`` counts them) and the rest weighted by 1/π. Why this and not a weight for
    them: the selection is drawn over every judged conversation of the campaign, scored or not, so the selected
    ones are a Poisson sample of the whole with known π whatever was scored before, and the 1/π-weighted
    rectifier over them alone is unbiased. The earlier scores came from the claim order (a seeded shuffle, then
    skips, leases and whoever stopped when): their chance of being scored is not known, and any weight given to
    them (1, or the share scored) would add a bias of unknown size. They still count for the calibration page
    and its saved calibrations, which do not weight by design."""
    matrices = {d: judgement_matrix(dimension=d) for d in dimensions}
    ids = sorted({cid for m in matrices.values() for cid in m.conversation_ids})
    if not ids:
        raise ValueError("no conversation has a scored judgement")
    judges = sorted({j for m in matrices.values() for j in m.judges})
    row_of, col_of = {cid: i for i, cid in enumerate(ids)}, {j: k for k, j in enumerate(judges)}
    scores = np.full((len(ids), len(judges), len(dimensions)), np.nan)
    for d, matrix in enumerate(matrices.values()):
        rows = [row_of[cid] for cid in matrix.conversation_ids]
        scores[np.ix_(rows, [col_of[j] for j in matrix.judges], [d])] = matrix.scores[:, :, None]
    targets = clinician_targets(campaign=campaign, dimensions=dimensions)
    clinician = np.full((len(ids), len(dimensions)), np.nan)
    for i, cid in enumerate(targets.conversation_ids):
        if cid in row_of:
            clinician[row_of[cid]] = [targets.target[d][i] for d in dimensions]
    by_id = conversation_facts(conversation_ids=ids)
    facts = [by_id[cid] for cid in ids]
    pi = recorded_probabilities(campaign=campaign, conversation_ids=ids) if probabilities else None
    left_out = 0
    if pi is not None:
        earlier = ~np.isnan(clinician).all(axis=1) & np.isnan(pi)
        clinician[earlier], left_out = np.nan, int(earlier.sum())
    data = JuryConversations.build(
        selection_probability=pi,
        case=[f["case__key"] for f in facts],
        model=[f["model__name"] for f in facts],
        family=[f["model__family"] for f in facts],
        condition=[f["condition"] for f in facts],
        judge_scores=scores,
        clinician=clinician,
        dimensions=dimensions,
        judges=judges,
        tags=[{t for t in ("malignant", "rare") if f[f"case__{t}"]} for f in facts],
    )
    return CampaignConversations(data, ids, facts, judges, left_out)


def recorded_probabilities(*, campaign: Campaign, conversation_ids: list[int]) -> np.ndarray | None:
    """The selection probability recorded for each conversation (NaN where none), or None when the campaign has
    recorded none (uniform selection: plain means). A clinician-scored conversation without a record while
    others have one is left out of the estimate by :func:`campaign_conversations` (see there why)."""
    recorded = selection_probabilities(campaign=campaign)
    if not recorded:
        return None
    return np.array([recorded.get(cid, np.nan) for cid in conversation_ids], dtype=float)


def clinician_set_hash(*, campaign: Campaign, dimensions: list[str]) -> str:
    """SHA-256 of every clinician figure the estimates read (conversation id and target per dimension)."""
    targets = clinician_targets(campaign=campaign, dimensions=dimensions)
    rows = [
        [cid, *[None if np.isnan(targets.target[d][i]) else float(targets.target[d][i]) for d in dimensions]]
        for i, cid in enumerate(targets.conversation_ids)
    ]
    return hashlib.sha256(json.dumps([list(dimensions), rows]).encode()).hexdigest()


@dataclass(frozen=True)
class Inference:
    """A campaign's conversations, the refit scheme, and the three estimators' leaderboard and Δ, all seeded."""

    conversations: CampaignConversations
    scheme: RefitScheme
    n_resamples: int
    confidence: float
    seed: int

    def _common(self) -> dict:
        return dict(
            method=self.scheme.methods,
            judge_weights={d: w for d, w in self.scheme.weights.items() if w is not None},
            n_resamples=self.n_resamples,
            confidence=self.confidence,
            min_clinician=MIN_CLINICIAN,
            seed=self.seed,
        )

    def leaderboard(self, *, condition: str = "full"):
        return ppi_leaderboard(self.conversations.data, condition=condition, **self._common())

    def subgroup_deltas(self, *, subgroup, label: str | None = None, condition: str = "full"):
        data = self.conversations.data
        return ppi_subgroup_deltas(data, subgroup=subgroup, label=label, condition=condition, **self._common())

    def ablation_deltas(self, *, conditions, baseline: str = "full"):
        data = self.conversations.data
        return ppi_ablation_deltas(data, conditions=conditions, baseline=baseline, **self._common())

    def estimator(self) -> dict:
        """What these figures are, for a snapshot or an export to keep saying so."""
        return {
            **ESTIMATOR,
            "estimators": dict(LABELS),
            "calibration_refit": self.scheme.description,
            **self.scheme.as_dict(),
            "interval": "expanded percentile (PPI, clinicians only), percentile (jury only)",
            "min_clinician": MIN_CLINICIAN,
            "n_resamples": self.n_resamples,
            "confidence": self.confidence,
            "seed": self.seed,
        }


def campaign_inference(
    *, campaign: Campaign, dimensions: list[str], fitted: dict | None, n_resamples: int, confidence: float, seed: int
) -> Inference:
    """The inference of ``campaign`` refitting ``fitted`` (a saved calibration per dimension, or None)."""
    conversations = campaign_conversations(campaign=campaign, dimensions=dimensions)
    scheme = refit_scheme(fitted=fitted, judges=conversations.judges, dimensions=dimensions)
    return Inference(conversations, scheme, n_resamples, confidence, seed)


def transport_warnings(board) -> list[dict]:
    """The models whose transport interval excludes 0, per dimension: the pooled calibration is biased for them."""
    return [
        {"model": e.name, "dimension": e.dimension, "residual": e.transport, "gap": abs(e.transport.value)}
        for e in board.estimates
        if e.kind == "model" and e.transport_flag
    ]
