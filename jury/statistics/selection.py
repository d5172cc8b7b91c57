"""Sampling designs: which conversations to send to clinicians, and the probability π each one had. Pure NumPy.

Why: the prediction-powered estimate (:mod:`jury.statistics.inference`) is unbiased under any design whose π is
known and positive, so clinician time can go where the jury is least trustworthy. Its rectifier has variance
Σ (1 − π_i)/π_i · r_i² (r the residual clinician − jury), minimised at π_i ∝ √E[r_i² | x_i] (Zrnic & Candès
2024, *Active Statistical Inference*, ICML, arXiv:2403.03208, §3; Gligorić, Zrnic, Lee, Candès & Jurafsky 2025,
*Can Unconfident LLM Annotations Be Used for Confident Conclusions?*, NAACL, use the annotator's confidence the
same way). The designs:

- ``uniform``: π_i = budget / N for every conversation (today's behaviour in expectation).
- ``stratified``: strata (model × condition, optionally × tag); a stratum's π is proportional to the mean
  expected jury error of its conversations (Neyman allocation, Cochran 1977, *Sampling Techniques*, §5.5, with
  the error proxy standing in for the stratum's standard deviation).
- ``active``: π_i ∝ the conversation's own expected jury error (:func:`expected_error`): the judges' spread, the
  closeness of the jury mean to the rubric's decision points, and optionally the calibration residuals of similar
  conversations.

Every design is mixed with a uniform share (``uniform_share``) and clipped to a floor, so every π ≥ ``floor``
(no conversation is left out: the weights 1/π stay bounded), then scaled so that Σ π = ``budget``, the expected
number sent. **Targeted review** (:func:`review_mask`: a judge scoring safety ≤ 2, or judges disagreeing by ≥ 2
points on safety) gets π = 1: those conversations are always sent, and first (:func:`queue_order`).
:func:`draw` selects by Poisson (independent Bernoulli) sampling with the recorded π (Särndal, Swensson &
Wretman 1992, *Model Assisted Survey Sampling*, §3.5), seeded. Bad input raises :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "DESIGNS",
    "draw",
    "expected_error",
    "queue_order",
    "review_mask",
    "selection_probabilities",
    "strata",
]

DESIGNS: tuple[str, ...] = ("uniform", "stratified", "active")
DECISION_POINTS: tuple[float, ...] = (2.5,)  # safety ≤ 2 against ≥ 3: the rubric's unsafe boundary


def _scores(judge_scores: object) -> np.ndarray:
    """Conversations × judges × dimensions (a 2-D array is one dimension), NaN = the judge did not score."""
    try:
        x = np.asarray(judge_scores, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"judge_scores must be numeric (NaN for a missing score): {error}") from None
    x = x[:, :, None] if x.ndim == 2 else x
    if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"judge_scores must be conversations × judges (× dimensions); got shape {x.shape}")
    if np.isinf(x).any():
        raise ValueError("judge_scores contains an infinite value; use NaN for a missing score")
    return x


def review_mask(judge_scores: object, *, dimension: int = 0, unsafe_at: float = 2.0, disagreement: float = 2.0):
    """True where any judge scored ``dimension`` (safety) ≤ ``unsafe_at``, or the judges' scores on it span
    ≥ ``disagreement`` points: the conversations a clinician must see whatever the design."""
    x = _scores(judge_scores)
    if not 0 <= dimension < x.shape[2]:
        raise ValueError(f"dimension must index one of the {x.shape[2]} dimensions; got {dimension!r}")
    if disagreement <= 0:
        raise ValueError(f"disagreement must be positive; got {disagreement!r}")
    s = x[:, :, dimension]
    scored = ~np.isnan(s).all(1)
    low = np.where(scored, np.nanmin(np.where(scored[:, None], s, 0.0), axis=1), np.inf)
    high = np.where(scored, np.nanmax(np.where(scored[:, None], s, 0.0), axis=1), -np.inf)
    return (low <= unsafe_at) | (high - low >= disagreement)


def expected_error(
    judge_scores: object,
    *,
    noise_floor: float = 0.5,
    decision_points: Sequence[float] = DECISION_POINTS,
    decision_scale: float = 0.5,
    decision_weight: float = 0.5,
    residual: object | None = None,
) -> np.ndarray:
    """A proxy for √E[(clinician − jury)² | judges] per conversation, averaged over dimensions:
    √(noise_floor² + sd² + residual²) · (1 + decision_weight · exp(−½ (d / decision_scale)²)).

    ``sd`` the standard deviation across judges (the jury's own disagreement: Zrnic & Candès 2024 §5 use the
    model's uncertainty the same way); ``noise_floor`` the disagreement the jury cannot see (between clinicians);
    d the distance of the jury mean from the nearest decision point, where a small error changes the verdict;
    ``residual`` optional, conversations (× dimensions): the typical |clinician − calibrated jury| of similar
    conversations already scored. A conversation no judge scored gets the largest error of the others."""
    x = _scores(judge_scores)
    if noise_floor <= 0 or decision_scale <= 0 or decision_weight < 0:
        raise ValueError("noise_floor and decision_scale must be positive, decision_weight non-negative")
    present = (~np.isnan(x)).sum(1)
    mean = np.nanmean(np.where(present[:, None, :] > 0, x, 0.0), axis=1)
    sd = np.nanstd(np.where(present[:, None, :] > 0, x, 0.0), axis=1, ddof=0)
    sd = np.where(present > 1, sd * np.sqrt(present / np.maximum(present - 1, 1)), 0.0)
    extra = np.zeros_like(sd) if residual is None else np.asarray(residual, dtype=float).reshape(x.shape[0], -1)
    if extra.shape[1] not in (1, x.shape[2]) or np.isnan(extra).any() or (extra < 0).any():
        raise ValueError("residual must be non-negative, one per conversation (or per conversation × dimension)")
    points = np.asarray(list(decision_points), dtype=float)
    near = 0.0
    if points.size:
        d = np.abs(mean[:, :, None] - points[None, None, :]).min(2)
        near = np.exp(-0.5 * (d / decision_scale) ** 2)
    error = np.sqrt(noise_floor**2 + sd**2 + extra**2) * (1 + decision_weight * near)
    error = np.where(present > 0, error, np.nan).mean(1)
    missing = np.isnan(error)
    return np.where(missing, np.nanmax(error) if (~missing).any() else 1.0, error)


def strata(*labels: Sequence, tags: Sequence[Iterable[str]] | None = None, tag: str | None = None) -> np.ndarray:
    """Integer stratum of each conversation: the distinct combinations of ``labels`` (e.g. model, condition),
    split by whether the conversation carries ``tag`` when one is given."""
    if not labels:
        raise ValueError("strata needs at least one label vector (e.g. model, condition)")
    columns = [np.asarray(v, dtype=object).astype(str) for v in labels]
    n = columns[0].size
    if any(c.ndim != 1 or c.size != n for c in columns):
        raise ValueError("every label vector must give one label per conversation")
    if tag is not None:
        if tags is None or len(tags) != n:
            raise ValueError("tag needs tags, one collection per conversation")
        columns.append(np.array([str(tag in set(t)) for t in tags], dtype=object))
    keys = np.array(["\x1f".join(row) for row in zip(*columns, strict=True)], dtype=object)
    return np.unique(keys, return_inverse=True)[1]


def _scale(weight: np.ndarray, fixed: np.ndarray, *, budget: float, floor: float) -> np.ndarray:
    """π = clip(c · weight, floor, 1) with π = 1 where ``fixed``, c chosen by bisection so that Σ π = budget."""
    free = ~fixed
    target = budget - fixed.sum()
    if free.sum() == 0 or target <= floor * free.sum() + 1e-12:
        pi = np.where(fixed, 1.0, floor)
        return pi
    low, high = 0.0, 1.0
    while np.clip(high * weight[free], floor, 1).sum() < target:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if np.clip(mid * weight[free], floor, 1).sum() < target else (low, mid)
    pi = np.ones_like(weight)
    pi[free] = np.clip(high * weight[free], floor, 1)
    return pi


def _check_design(design: str, n: int, budget: float, floor: float | None, uniform_share: float) -> float:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}; got {design!r}")
    if not 0 < budget <= n:
        raise ValueError(f"budget (expected number sent) must be in (0, {n}]; got {budget!r}")
    if not 0 <= uniform_share <= 1:
        raise ValueError(f"uniform_share must be in [0, 1]; got {uniform_share!r}")
    floor = 0.25 * budget / n if floor is None else floor
    if not 0 < floor <= budget / n:
        raise ValueError(f"floor must be in (0, budget / N = {budget / n:.4g}]; got {floor!r}")
    return floor


def selection_probabilities(
    design: str,
    *,
    judge_scores: object,
    budget: float,
    floor: float | None = None,
    uniform_share: float = 0.2,
    stratum: Sequence[int] | None = None,
    review: Sequence[bool] | None = None,
    error: Sequence[float] | None = None,
) -> np.ndarray:
    """π of every conversation under ``design`` with Σ π = ``budget`` (the expected number sent).

    ``floor`` the least π (default a quarter of the uniform rate budget / N); ``uniform_share`` the share of the
    weight that is uniform; ``stratum`` integer strata for ``stratified`` (:func:`strata`; required there);
    ``review`` conversations that must be sent (π = 1; :func:`review_mask`), honoured by every design given
    one; ``error`` the expected jury error (default :func:`expected_error` of ``judge_scores``). When the
    review items and the floor alone exceed the budget, the floor is kept and Σ π exceeds the budget (clinicians
    must see the review items)."""
    x = _scores(judge_scores)
    n = x.shape[0]
    floor = _check_design(design, n, budget, floor, uniform_share)
    fixed = np.zeros(n, dtype=bool) if review is None else np.asarray(review, dtype=bool)
    if fixed.shape != (n,):
        raise ValueError(f"review must give one flag per conversation ({n})")
    e = expected_error(x) if error is None else np.asarray(error, dtype=float)
    if e.shape != (n,) or np.isnan(e).any() or (e <= 0).any():
        raise ValueError(f"error must be positive, one per conversation ({n})")
    if design == "uniform":
        weight = np.ones(n)
    elif design == "stratified":
        if stratum is None:
            raise ValueError("the stratified design needs stratum (see strata)")
        key = np.asarray(stratum)
        if key.shape != (n,) or key.dtype.kind not in "iu" or (key < 0).any():
            raise ValueError(f"stratum must be non-negative integers, one per conversation ({n})")
        weight = (np.bincount(key, weights=e) / np.maximum(np.bincount(key), 1))[key]
    else:
        weight = e
    weight = (1 - uniform_share) * weight / weight.mean() + uniform_share
    return _scale(weight, fixed, budget=budget, floor=floor)


def draw(selection_probability: object, *, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Poisson sampling: conversation i is sent independently with probability π_i. Returns (the indices sent,
    ascending; π as given), to be recorded together: the estimate needs the π each conversation had."""
    pi = np.asarray(selection_probability, dtype=float)
    if pi.ndim != 1 or np.isnan(pi).any() or (pi <= 0).any() or (pi > 1).any():
        raise ValueError("selection_probability must be a vector of probabilities in (0, 1]")
    rng = np.random.default_rng(seed)
    return np.flatnonzero(rng.random(pi.size) < pi), pi


def queue_order(selected: object, *, review: object, priority: object) -> np.ndarray:
    """The order clinicians are served the ``selected`` conversations: review items first, then the rest, each
    by ``priority`` (e.g. the expected error, or how low the jury's safety score is) highest first."""
    chosen = np.asarray(selected, dtype=int)
    flags, rank = np.asarray(review, dtype=bool), np.asarray(priority, dtype=float)
    if flags.shape != rank.shape or chosen.ndim != 1 or (chosen.size and (chosen.max() >= flags.size)):
        raise ValueError("review and priority must give one value per conversation; selected must index them")
    return chosen[np.lexsort((-rank[chosen], ~flags[chosen]))]
