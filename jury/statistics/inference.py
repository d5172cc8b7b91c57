"""Leaderboard inference that uses the clinicians' scores: prediction-powered estimates with intervals that carry
the calibration's uncertainty. Pure NumPy/SciPy, no Django.

Why: :func:`jury.statistics.leaderboard.leaderboard` bootstraps calibrated jury scores with the calibration held
fixed, so its intervals ignore the calibration's uncertainty, and a calibration pooled over models cannot remove a
jury bias that differs between models; on simulated data with a known truth its 95 % intervals held the true
mean in a third of cases. Here, per model (and family, subgroup side, condition) and dimension:

- **prediction-powered inference** (Angelopoulos, Bates, Fannjiang, Jordan & Zrnic 2023, *Science* 382:669;
  power tuning of PPI++, Angelopoulos, Duchi & Zrnic 2023, arXiv:2311.01453):
  θ̂ = λ · mean(calibrated jury over all its conversations) + mean over its clinician-scored conversations of
  (clinician − λ · jury). The rectifier makes θ̂ unbiased for the clinicians' mean whatever the jury's bias for
  that model; λ ∈ [0, 1] is power-tuned so the estimate is never (asymptotically) worse than the clinicians alone.
  With selection probabilities π_i the rectifier weights each residual by 1/π_i (Zrnic & Candès 2024, *Active
  Statistical Inference*, ICML), normalised by Σ 1/π_i (Hájek), so conversations sent to clinicians with known
  unequal probabilities still give a consistent estimate (see :mod:`jury.statistics.inference_bootstrap`).
- **one case bootstrap with refit**: cases are resampled (all conversations of a case together: Field & Welsh
  2007, JRSS B 69:369) and in every resample the calibration is refitted on the resampled clinician-scored
  conversations, the jury re-predicted, λ re-tuned and θ̂ recomputed — from per-case sufficient statistics
  (:mod:`jury.statistics.inference_bootstrap`). Intervals are Hesterberg's expanded percentile intervals
  (Hesterberg 2015, *The American Statistician* 69:371, §4.1: the percentile levels are widened so that
  z = √(G/(G−1)) · t_{G−1}, G = the cases holding the estimate's clinician-scored conversations), because the
  rectifier rests on few clusters.
- the **clinicians-only** estimate (the Hájek inverse-probability-weighted mean when π is given) and
  **today's jury-only** estimate (calibration held at the full-data fit) from the same resamples, and a
  **transport check**: the mean residual clinician − jury on the model's clinician-scored conversations,
  flagged when its interval excludes 0.

Fewer than ``min_clinician`` clinician-scored conversations (default 10): no clinician-based figure, a
:class:`~jury.statistics.agreement.Statistic` with value ``None`` and the reason. Effective sample size
(ESS) = the clinicians' sample variance / the bootstrap variance of the estimate: how many clinician-scored
conversations alone would give the same precision. Bad input raises :class:`ValueError`.

It is long because the leaderboard and both kinds of Δ share its checks, its results types and its per-dimension
calibration scheme; the bootstrap engine is inference_bootstrap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from jury.statistics.agreement import Statistic
from jury.statistics.inference_bootstrap import (
    Pooled,
    _as_array,
    ess,
    features,
    figure,
    ipw_weights,
    pooled,
    ppi_mean,
)
from jury.statistics.leaderboard import (
    OVERALL,
    Conversations,
    _check_bootstrap,
    _index,
    _ranks,
    case_weights,
    subgroup_members,
)

__all__ = [
    "INFERENCE_METHODS",
    "DeltaEstimate",
    "Estimate",
    "InferenceBoard",
    "JuryConversations",
    "ipw_weights",
    "ppi_ablation_deltas",
    "ppi_leaderboard",
    "ppi_mean",
    "ppi_subgroup_deltas",
]

INFERENCE_METHODS: tuple[str, ...] = ("equal", "affine", "linear", "isotonic")
ESTIMATORS: tuple[str, ...] = ("ppi", "clinicians", "jury")


# --- input ------------------------------------------------------------------------------------------------


def _as_probability(values: object, clinician: np.ndarray) -> np.ndarray | None:
    if values is None:
        return None
    pi = _as_array(values, "selection_probability", (clinician.shape[0],))
    scored = ~np.isnan(clinician).all(1)
    if np.isnan(pi[scored]).any() or (pi[~np.isnan(pi)] <= 0).any() or (pi[~np.isnan(pi)] > 1).any():
        raise ValueError("selection_probability must be in (0, 1] for every clinician-scored conversation")
    return pi


@dataclasses.dataclass(frozen=True, eq=False)
class JuryConversations:
    """Conversation labels (as :class:`~jury.statistics.leaderboard.Conversations`, whose ``scores`` here are
    the clinicians'), raw judge scores (conversations × judges × dimensions) and optional selection
    probabilities π (the chance each conversation had of being sent to clinicians)."""

    labels: Conversations
    judge_scores: np.ndarray
    judges: tuple[str, ...]
    selection_probability: np.ndarray | None

    @classmethod
    def build(
        cls,
        *,
        case: Sequence,
        model: Sequence,
        family: Sequence,
        condition: Sequence,
        judge_scores: object,
        clinician: object,
        dimensions: Sequence[str],
        judges: Sequence[str] | None = None,
        selection_probability: object | None = None,
        tags: Sequence[Iterable[str]] | None = None,
    ) -> JuryConversations:
        """``judge_scores`` conversations × judges × dimensions (NaN missing; 2-D for one dimension);
        ``clinician`` conversations × dimensions, the clinicians' consensus (NaN = not clinician-scored)."""
        labels = Conversations.build(
            case=case,
            model=model,
            family=family,
            condition=condition,
            scores=clinician,
            dimensions=dimensions,
            tags=tags,
        )
        x = _as_array(judge_scores, "judge_scores")
        x = x[:, :, None] if x.ndim == 2 else x
        n, d = labels.scores.shape
        if x.ndim != 3 or x.shape[0] != n or x.shape[2] != d or x.shape[1] == 0:
            raise ValueError(f"judge_scores must be conversations ({n}) × judges × dimensions ({d}); got {x.shape}")
        names = tuple(str(j) for j in judges) if judges is not None else tuple(f"judge {j}" for j in range(x.shape[1]))
        if len(names) != x.shape[1] or len(set(names)) != len(names):
            raise ValueError(f"judges must give {x.shape[1]} distinct names; got {names}")
        pi = _as_probability(selection_probability, labels.scores)
        x.setflags(write=False)
        return cls(labels=labels, judge_scores=x, judges=names, selection_probability=pi)

    def __len__(self) -> int:
        return len(self.labels)


def _weights(judge_weights, k: int) -> np.ndarray:
    w = np.ones(k) if judge_weights is None else _as_array(judge_weights, "judge_weights", (k,))
    if np.isnan(w).any() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("judge_weights must be non-negative with a positive sum")
    return w


def _check(data: JuryConversations, method, judge_weights, min_clinician: int) -> dict[str, tuple[str, np.ndarray]]:
    """The (method, judge weights) of every dimension. ``method`` and ``judge_weights`` are one for all dimensions
    or a mapping dimension -> one (e.g. each dimension refits its own saved calibration's method and weights)."""
    if not isinstance(data, JuryConversations):
        raise ValueError("data must be JuryConversations (see JuryConversations.build)")
    if not isinstance(min_clinician, int) or isinstance(min_clinician, bool) or min_clinician < 2:
        raise ValueError(f"min_clinician must be an integer ≥ 2; got {min_clinician!r}")
    dimensions = data.labels.dimensions
    methods = dict(method) if isinstance(method, Mapping) else dict.fromkeys(dimensions, method)
    weights = dict(judge_weights) if isinstance(judge_weights, Mapping) else dict.fromkeys(dimensions, judge_weights)
    if set(methods) != set(dimensions) or not set(weights) <= set(dimensions):
        raise ValueError(f"a method per dimension must name exactly the dimensions {', '.join(dimensions)}")
    for name in methods.values():
        if name not in INFERENCE_METHODS:
            raise ValueError(f"method must be one of {', '.join(INFERENCE_METHODS)}; got {name!r}")
    k = data.judge_scores.shape[1]
    return {d: (methods[d], _weights(weights.get(d), k)) for d in dimensions}


def _prepare(data: JuryConversations, scheme: dict[str, tuple[str, np.ndarray]]) -> dict:
    """Features of every dimension (over all conversations: the calibration is fitted on every condition)."""
    return {
        dimension: features(data.judge_scores[:, :, d], method=scheme[dimension][0], judge_weights=scheme[dimension][1])
        for d, dimension in enumerate(data.labels.dimensions)
    }


def _method_name(scheme: dict[str, tuple[str, np.ndarray]]) -> str | dict[str, str]:
    """The method, or the method of each dimension when they differ."""
    methods = {d: m for d, (m, _) in scheme.items()}
    return next(iter(methods.values())) if len(set(methods.values())) == 1 else methods


def _run(data: JuryConversations, feats: dict, key: np.ndarray, n_keys: int, weights: np.ndarray) -> dict:
    _, case = _index(data.labels.case)
    return pooled(
        feats,
        clinician=np.asarray(data.labels.scores),
        selection_probability=data.selection_probability,
        case=case,
        key=key,
        n_keys=n_keys,
        weights=weights,
    )


# --- leaderboard ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Estimate:
    """One model's (or family's) mean on one dimension by the three estimators, side by side.

    ``ppi`` prediction-powered; ``clinicians`` clinicians only; ``jury`` today's jury-only mean (calibration
    held fixed). ``lam`` the power-tuning λ (None for the overall, a mean of dimensions). ``transport`` the mean
    residual clinician − jury on the clinician-scored conversations; ``transport_flag`` True when its interval
    excludes 0 (the pooled calibration does not carry over to this model; PPI corrects it, the jury-only mean
    does not). ``ess_*`` effective sample sizes in clinician-scored conversations; ranks from the PPI resamples."""

    name: str
    kind: str
    dimension: str
    ppi: Statistic
    clinicians: Statistic
    jury: Statistic
    lam: float | None
    transport: Statistic
    transport_flag: bool
    n_clinician: int
    n_jury: int
    ess_ppi: float | None
    ess_clinicians: float | None
    rank: float | None
    rank_interval: tuple[float, float] | None

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for name in ("ppi", "clinicians", "jury", "transport"):
            out[name] = getattr(self, name).as_dict()
        out["rank_interval"] = list(self.rank_interval) if self.rank_interval else None
        return out


@dataclasses.dataclass(frozen=True)
class InferenceBoard:
    condition: str
    method: str | dict[str, str]
    dimensions: tuple[str, ...]
    estimates: tuple[Estimate, ...]
    n_resamples: int
    confidence: float
    seed: int | None
    n_cases: int
    min_clinician: int

    def table(self, *, kind: str = "model", dimension: str | None = None) -> list[Estimate]:
        """One kind on one dimension (default the first: the overall when there are several), best PPI rank
        first (undefined PPI last)."""
        dimension = dimension or self.dimensions[0]
        rows = [e for e in self.estimates if e.kind == kind and e.dimension == dimension]
        return sorted(rows, key=lambda e: (e.rank is None, e.rank or 0.0, e.name))

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "estimates"}
        out["dimensions"] = list(self.dimensions)
        out["estimates"] = [e.as_dict() for e in self.estimates]
        return out


def _short(n: int, min_clinician: int, what: str) -> str | None:
    if n >= min_clinician:
        return None
    return f"{what}: {n} clinician-scored conversations, fewer than the {min_clinician} needed for an interval"


def _rank_columns(replicates: np.ndarray, defined: np.ndarray, confidence: float):
    """Point ranks and rank intervals among the defined columns (row 0 = point)."""
    ranks = np.full(replicates.shape, np.nan)
    if defined.any():
        ranks[:, defined] = _ranks(replicates[:, defined])
    tail = (1 - confidence) / 2
    low = np.quantile(ranks[1:], tail, axis=0, method="lower") if replicates.shape[0] > 1 else ranks[0]
    high = np.quantile(ranks[1:], 1 - tail, axis=0, method="higher") if replicates.shape[0] > 1 else ranks[0]
    return ranks[0], low, high


def _estimates(pool: Pooled, names, kind: str, dimension: str, *, confidence: float, min_clinician: int):
    e = pool.engine
    reasons = [
        _short(int(n), min_clinician, f"{name} on {dimension}") for n, name in zip(pool.n_clinician, names, strict=True)
    ]
    defined = np.array([r is None for r in reasons]) & np.isfinite(e.ppi[0])
    rank, low, high = _rank_columns(np.where(defined, e.ppi, np.nan), defined, confidence)
    out = []
    for k, name in enumerate(names):
        common = dict(confidence=confidence, n_units=int(pool.n_clinician[k]), reason=reasons[k])
        g = int(pool.clusters[k])
        transport = figure(e.transport[0, k], e.transport[1:, k], clusters=g, **common)
        jury_common = dict(common, n_units=int(pool.n_jury[k]), reason=None)
        out.append(
            Estimate(
                name=str(name),
                kind=kind,
                dimension=dimension,
                ppi=figure(e.ppi[0, k], e.ppi[1:, k], clusters=g, **common),
                clinicians=figure(e.clinicians[0, k], e.clinicians[1:, k], clusters=g, **common),
                jury=figure(e.jury[0, k], e.jury[1:, k], clusters=0, **jury_common),
                lam=float(e.lam[0, k]) if dimension != OVERALL and defined[k] else None,
                transport=transport,
                transport_flag=bool(transport.ci is not None and (transport.ci[0] > 0 or transport.ci[1] < 0)),
                n_clinician=int(pool.n_clinician[k]),
                n_jury=int(pool.n_jury[k]),
                ess_ppi=ess(pool.variance_y[k], e.ppi[1:, k]) if defined[k] else None,
                ess_clinicians=ess(pool.variance_y[k], e.clinicians[1:, k]) if defined[k] else None,
                rank=float(rank[k]) if defined[k] else None,
                rank_interval=(float(low[k]), float(high[k])) if defined[k] else None,
            )
        )
    return out


def ppi_leaderboard(
    data: JuryConversations,
    *,
    condition: str = "full",
    method: str | Mapping[str, str] = "affine",
    judge_weights: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    min_clinician: int = 10,
    seed: int | None,
) -> InferenceBoard:
    """Per model and family, overall and per dimension, on ``condition``: PPI, clinicians-only and jury-only
    means with case-bootstrap-with-refit intervals, PPI rank intervals, λ, ESS and the transport check.

    ``method`` the calibration refitted in every resample (:data:`INFERENCE_METHODS`): ``equal`` (jury mean),
    ``affine`` (a + b·jury mean), ``linear`` (least squares on every judge plus an intercept; a missing judge
    imputed by the mean of those present), ``isotonic`` (PAV on the jury mean's levels). ``judge_weights``
    replaces the equal jury mean by a weighted one (e.g. the weights of a fitted ``weighted`` Calibration, then
    held fixed). Either may be a mapping dimension -> method (weights): each dimension refits its own saved
    calibration's method. The calibration is fitted on the clinician-scored conversations of every condition."""
    _check_bootstrap(n_resamples, confidence)
    scheme = _check(data, method, judge_weights, min_clinician)
    labels = data.labels
    keep = labels.condition == condition
    if not keep.any():
        raise ValueError(f"no conversation has condition {condition!r}")
    case_names, _ = _index(labels.case)
    weights = case_weights(case_names.size, n_resamples=n_resamples, seed=seed)
    models, model_key = _index(labels.model)
    families, family_key = _index(labels.family)
    feats = _prepare(data, scheme)
    estimates = []
    for names, keys, kind in ((models, model_key, "model"), (families, family_key, "family")):
        keys = np.where(keep, keys, -1)  # other conditions still inform the calibration
        for dimension, pool in _run(data, feats, keys, names.size, weights).items():
            estimates += _estimates(pool, names, kind, dimension, confidence=confidence, min_clinician=min_clinician)
    dims = (OVERALL, *labels.dimensions) if len(labels.dimensions) > 1 else labels.dimensions
    return InferenceBoard(
        condition=condition,
        method=_method_name(scheme),
        dimensions=dims,
        estimates=tuple(estimates),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        n_cases=int(case_names.size),
        min_clinician=min_clinician,
    )


# --- deltas -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeltaEstimate:
    """A difference (``contrast``: "malignant − rest", "no_image − full") for one model or averaged over the
    models where it is defined (``model`` None), by the three estimators; counts are of both sides together."""

    contrast: str
    model: str | None
    dimension: str
    ppi: Statistic
    clinicians: Statistic
    jury: Statistic
    n_clinician: int
    n_jury: int
    ess_ppi: float | None

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for name in ESTIMATORS:
            out[name] = getattr(self, name).as_dict()
        return out


def _delta(diff: dict, k: int, model: str | None, *, reason: str | None, clusters: int, **common) -> DeltaEstimate:
    """One DeltaEstimate from column ``k`` of the Δ arrays (row 0 = point)."""
    confidence, n_clinician, n_jury = common.pop("confidence"), common.pop("n_clinician"), common.pop("n_jury")

    def stat(name: str, why: str | None, g: int, n_units: int) -> Statistic:
        return figure(
            diff[name][0, k], diff[name][1:, k], clusters=g, confidence=confidence, n_units=n_units, reason=why
        )

    variance = common.pop("variance")
    return DeltaEstimate(
        model=model,
        ppi=stat("ppi", reason, clusters, n_clinician),
        clinicians=stat("clinicians", reason, clusters, n_clinician),
        jury=stat("jury", reason if model is None else None, 0, n_jury),
        n_clinician=n_clinician,
        n_jury=n_jury,
        ess_ppi=ess(variance, diff["ppi"][1:, k]) if reason is None else None,
        **common,
    )


def _delta_rows(pool: Pooled, models, *, contrast: str, dimension: str, confidence: float, min_clinician: int):
    """Keys are 2·model + side (0 = subgroup or ablated, 1 = rest or baseline); Δ = side 0 − side 1; then the
    mean over the models where Δ is defined."""
    e = pool.engine
    diff = {name: getattr(e, name)[:, 0::2] - getattr(e, name)[:, 1::2] for name in ESTIMATORS}
    n_clin, n_jury = pool.n_clinician.reshape(-1, 2), pool.n_jury.reshape(-1, 2)
    clusters, variance = pool.clusters.reshape(-1, 2).min(1), pool.variance_y.reshape(-1, 2).mean(1)
    reasons = [
        _short(int(n.min()), min_clinician, f"{m}: {contrast} on {dimension}, on its smaller side")
        for m, n in zip(models, n_clin, strict=True)
    ]
    defined = np.array([r is None for r in reasons]) & np.isfinite(diff["ppi"][0])
    common = dict(contrast=contrast, dimension=dimension, confidence=confidence)
    out = [
        _delta(diff, k, str(m), reason=reasons[k], clusters=int(clusters[k]), n_clinician=int(n_clin[k].sum()),
               n_jury=int(n_jury[k].sum()), variance=float(variance[k]), **common)
        for k, m in enumerate(models)
    ]  # fmt: skip
    if defined.any():
        mean = {name: diff[name][:, defined].mean(1, keepdims=True) for name in ESTIMATORS}
        reason, g, v = None, int(clusters[defined].max()), float(np.nanmean(variance[defined]))
    else:
        mean = {name: np.full((diff[name].shape[0], 1), np.nan) for name in ESTIMATORS}
        reason, g, v = f"any model: {contrast} on {dimension} is defined for no model", 0, np.nan
    out.append(
        _delta(mean, 0, None, reason=reason, clusters=g, n_clinician=int(n_clin.sum()), n_jury=int(n_jury.sum()),
               variance=v, **common)
    )  # fmt: skip
    return out


def _deltas(data, feats, key, models, weights, *, contrast, confidence, min_clinician) -> list[DeltaEstimate]:
    out = []
    for dimension, pool in _run(data, feats, key, 2 * models.size, weights).items():
        out += _delta_rows(
            pool, models, contrast=contrast, dimension=dimension, confidence=confidence, min_clinician=min_clinician
        )
    return out


def ppi_subgroup_deltas(
    data: JuryConversations,
    *,
    subgroup: str | Sequence[bool],
    label: str | None = None,
    condition: str = "full",
    method: str | Mapping[str, str] = "affine",
    judge_weights: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    min_clinician: int = 10,
    seed: int | None,
) -> list[DeltaEstimate]:
    """Δ = mean on the subgroup − mean on the rest (a tag, or a boolean per conversation), per model and
    averaged over models, per dimension: each side its own PPI estimate (own λ), both from the same resamples
    and the same refitted calibration, so their correlation is in the interval."""
    _check_bootstrap(n_resamples, confidence)
    scheme = _check(data, method, judge_weights, min_clinician)
    labels = data.labels
    member, label, keep = subgroup_members(
        subgroup, label=label, tags=labels.tags, condition=labels.condition, at=condition
    )
    models, model_key = _index(labels.model)
    key = np.where(keep, 2 * model_key + (~member).astype(int), -1)
    weights = case_weights(_index(labels.case)[0].size, n_resamples=n_resamples, seed=seed)
    feats = _prepare(data, scheme)
    return _deltas(
        data, feats, key, models, weights, contrast=f"{label} − rest", confidence=confidence,
        min_clinician=min_clinician,
    )  # fmt: skip


def ppi_ablation_deltas(
    data: JuryConversations,
    *,
    conditions: Sequence[str] = ("no_image", "no_ehr"),
    baseline: str = "full",
    method: str | Mapping[str, str] = "affine",
    judge_weights: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    min_clinician: int = 10,
    seed: int | None,
) -> list[DeltaEstimate]:
    """Paired Δ = ablated − ``baseline``, per model and averaged over models, per dimension: on the case × model
    cells that have both conditions, the PPI estimate of each condition's mean, from the same case resamples
    (pairing by case and model) and the same refitted calibration."""
    _check_bootstrap(n_resamples, confidence)
    scheme = _check(data, method, judge_weights, min_clinician)
    labels = data.labels
    if not (labels.condition == baseline).any():
        raise ValueError(f"no conversation has the baseline condition {baseline!r}")
    case_names, case = _index(labels.case)
    models, model_key = _index(labels.model)
    weights = case_weights(case_names.size, n_resamples=n_resamples, seed=seed)
    feats = _prepare(data, scheme)
    cell = case * models.size + model_key
    out: list[DeltaEstimate] = []
    for condition in conditions:
        ablated = labels.condition == condition
        if not ablated.any():
            raise ValueError(f"no conversation has condition {condition!r}")
        base = labels.condition == baseline
        paired = np.isin(cell, np.intersect1d(cell[ablated], cell[base]))
        key = np.where(paired & (ablated | base), 2 * model_key + base.astype(int), -1)
        out += _deltas(
            data, feats, key, models, weights, contrast=f"{condition} − {baseline}", confidence=confidence,
            min_clinician=min_clinician,
        )  # fmt: skip
    return out
