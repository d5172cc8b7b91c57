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
- ``active``: π_i ∝ the conversation's own expected jury error: before any clinician score,
  :func:`expected_error` (the judges' spread, the closeness of the jury mean to the rubric's decision points);
  once clinician scores arrive, :func:`predicted_error`, √E[r² | x] *fitted* on the squared residuals of the
  calibrated jury on the conversations already scored, with the judges' spread, the distance from the decision
  points and the residuals of similar conversations (same case, same stratum) as regressors. Zrnic & Candès
  §4 fit the uncertainty model the same way, on the labels collected so far; a proxy that is not fitted may
  rank conversations well yet say nothing of *how much* worse the jury is on some, and π needs the ratio.

Every design is mixed with a uniform share (``uniform_share``) and clipped to a floor, so every π ≥ ``floor``
(no conversation is left out: the weights 1/π stay bounded), then scaled so that Σ π = ``budget``, the expected
number sent. **Targeted review** (:func:`review_mask`: a judge scoring safety ≤ 2, or judges disagreeing by ≥ 2
points on safety) gets π = 1: those conversations are always sent, and first (:func:`queue_order`, most likely
unsafe first by :func:`unsafe_probability`). Batches (:func:`batches`: a seeded random partition of the
conversations, each drawn once, with π re-estimated from the scores of the earlier batches) keep every π known
at the moment of selection: conditionally on the earlier batches a batch is a Poisson sample with its recorded π,
so the 1/π-weighted rectifier stays unbiased (the martingale argument of Zrnic & Candès §4).
:func:`draw` selects by Poisson (independent Bernoulli) sampling with the recorded π (Särndal, Swensson &
Wretman 1992, *Model Assisted Survey Sampling*, §3.5), seeded. Bad input raises :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import optimize
from scipy import stats as scipy_stats

from jury.statistics.inference_bootstrap import mean_present

__all__ = [
    "DESIGNS",
    "batches",
    "draw",
    "expected_error",
    "judge_means",
    "oracle_probabilities",
    "predicted_error",
    "queue_order",
    "rectifier_variance",
    "review_mask",
    "review_rules",
    "selection_probabilities",
    "strata",
    "unsafe_probability",
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


UNSAFE_AT: float = 2.0  # a judge's safety score at or below this sends the conversation to targeted review
DISAGREEMENT: float = 2.0  # so does a spread of the judges' safety scores of at least this many points


def judge_means(scores: object, *, judge_of: Sequence[str] | None) -> np.ndarray:
    """Conversations × judges: the columns of one judge (its prompt variants) averaged, NaN where none scored;
    the columns as they are without ``judge_of``."""
    s = np.asarray(scores, dtype=float)
    if judge_of is None:
        return s
    if len(judge_of) != s.shape[1]:
        raise ValueError(f"judge_of must name the judge of each of the {s.shape[1]} columns")
    names, column = np.unique(np.asarray(judge_of, dtype=object).astype(str), return_inverse=True)
    return mean_present(s, np.eye(names.size)[column])


def review_rules(
    judge_scores: object,
    *,
    dimension: int = 0,
    unsafe_at: float = UNSAFE_AT,
    disagreement: float = DISAGREEMENT,
    judge_of: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which rule of targeted review each conversation meets: (``unsafe``: a judge scored ``dimension`` (safety)
    ≤ ``unsafe_at``; ``disagree``: the judges' scores on it span ≥ ``disagreement`` points). ``judge_of`` names
    the judge of each column when a judge has several (its prompt variants): a judge's score is then the mean of
    its columns, so the rules compare judges, not one prompt's wording with another's. A conversation no judge
    scored meets neither."""
    x = _scores(judge_scores)
    if not 0 <= dimension < x.shape[2]:
        raise ValueError(f"dimension must index one of the {x.shape[2]} dimensions; got {dimension!r}")
    if disagreement <= 0:
        raise ValueError(f"disagreement must be positive; got {disagreement!r}")
    s = judge_means(x[:, :, dimension], judge_of=judge_of)
    scored = ~np.isnan(s).all(1)
    low = np.where(scored, np.nanmin(np.where(scored[:, None], s, 0.0), axis=1), np.inf)
    high = np.where(scored, np.nanmax(np.where(scored[:, None], s, 0.0), axis=1), -np.inf)
    return low <= unsafe_at, high - low >= disagreement


def review_mask(
    judge_scores: object,
    *,
    dimension: int = 0,
    unsafe_at: float = UNSAFE_AT,
    disagreement: float = DISAGREEMENT,
    judge_of: Sequence[str] | None = None,
):
    """True where any judge scored ``dimension`` (safety) ≤ ``unsafe_at``, or the judges' scores on it span
    ≥ ``disagreement`` points: the conversations a clinician must see whatever the design (:func:`review_rules`
    says which rule each meets, and how ``judge_of`` groups a judge's prompt variants)."""
    unsafe, disagree = review_rules(
        judge_scores, dimension=dimension, unsafe_at=unsafe_at, disagreement=disagreement, judge_of=judge_of
    )
    return unsafe | disagree


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


def _spread_and_nearness(x: np.ndarray, decision_points: Sequence[float], decision_scale: float):
    """Per conversation (averaged over dimensions): the judges' variance and the closeness of the jury mean to
    the nearest decision point, exp(−½ (d / scale)²); NaN where no judge scored."""
    present = (~np.isnan(x)).sum(1)
    safe = np.where(np.isnan(x), 0.0, x)
    mean = np.where(present > 0, safe.sum(1) / np.maximum(present, 1), np.nan)
    square = np.where(present > 0, (safe**2).sum(1) / np.maximum(present, 1), np.nan)
    variance = np.where(present > 1, (square - mean**2) * present / np.maximum(present - 1, 1), 0.0)
    points = np.asarray(list(decision_points), dtype=float)
    near = np.zeros_like(mean)
    if points.size:
        near = np.exp(-0.5 * (np.abs(mean[:, :, None] - points[None, None, :]).min(2) / decision_scale) ** 2)
    missing = present == 0
    return np.where(missing, np.nan, np.maximum(variance, 0.0)).mean(1), np.where(missing, np.nan, near).mean(1)


def _group_mean(values: np.ndarray, known: np.ndarray, group: np.ndarray, prior: float, strength: float):
    """Per conversation, the mean of ``values`` over the *other* known conversations of its group, shrunk toward
    ``prior`` as if the prior were ``strength`` more conversations (leave-one-out, so a scored conversation's
    own residual does not predict itself)."""
    _, key = np.unique(np.asarray(group), return_inverse=True)
    v = np.where(known, values, 0.0)
    total = np.bincount(key, weights=v)[key] - v
    count = np.bincount(key, weights=known.astype(float))[key] - known
    return (total + strength * prior) / (count + strength)


def predicted_error(
    judge_scores: object,
    *,
    residual: object,
    groups: Sequence[Sequence] = (),
    decision_points: Sequence[float] = DECISION_POINTS,
    decision_scale: float = 0.5,
    shrinkage: float = 3.0,
    least: float = 0.05,
) -> np.ndarray:
    """√E[r² | x] per conversation, fitted on the conversations clinicians already scored.

    ``residual`` one per conversation (averaged over dimensions): clinician − calibrated jury where clinician
    scored, NaN elsewhere. r² is regressed, by non-negative least squares (so no regressor can make an error
    smaller than the intercept's), on 1, the judges' sd and variance, the nearness of the jury mean to a decision
    point (:func:`expected_error`'s terms), and for each of ``groups`` (label vectors: "similar conversations",
    e.g. the case, or model × condition) the mean r² of the group's *other* scored conversations, shrunk toward
    the overall mean r² with ``shrinkage`` pseudo-conversations. The sd enters beside the variance because the
    variance of a few judges is a noisy regressor that alone flattens the contrast the fit should find. The
    estimate of r² is thus a conditional mean of the squared residual (Zrnic & Candès 2024 §3: the optimal π is
    ∝ √E[r² | x]; §4: fitted on the labels so far), floored at ``least``² so no π collapses. Fewer than 10
    scored conversations: :func:`expected_error` (there is nothing
    to fit yet)."""
    x = _scores(judge_scores)
    n = x.shape[0]
    r = np.asarray(residual, dtype=float)
    if r.shape != (n,) or np.isinf(r).any():
        raise ValueError(f"residual must give one value per conversation ({n}), NaN where not clinician-scored")
    if shrinkage <= 0 or least <= 0:
        raise ValueError("shrinkage and least must be positive")
    known = ~np.isnan(r)
    if known.sum() < 10:
        return expected_error(x, decision_points=decision_points, decision_scale=decision_scale)
    r2 = np.where(known, r**2, np.nan)
    prior = float(np.nanmean(r2))
    variance, near = _spread_and_nearness(x, decision_points, decision_scale)
    variance = np.nan_to_num(variance, nan=np.nanmax(variance))
    columns = [np.ones(n), np.sqrt(variance), variance, np.nan_to_num(near, nan=0.0)]
    for labels in groups:
        if len(labels) != n:
            raise ValueError(f"every group must give one label per conversation ({n})")
        columns.append(_group_mean(np.nan_to_num(r2), known, np.asarray(labels, dtype=object).astype(str), prior,
                                   shrinkage))  # fmt: skip
    design = np.column_stack(columns)
    scale = np.maximum(np.abs(design[known]).max(0), 1e-12)
    coef, _ = optimize.nnls(design[known] / scale, r2[known])
    return np.sqrt(np.maximum(design @ (coef / scale), least**2))


def unsafe_probability(calibrated: object, *, error: object, at: float = 2.5) -> np.ndarray:
    """P(the clinicians' score < ``at``) if the truth were N(calibrated jury, error²): the order in which
    the review queue is served (most likely unsafe first). A reliable jury saying 1.8 outranks an unreliable one
    saying 2.2; where the jury mean is above ``at``, the less reliable it is, the likelier unsafe."""
    f, e = np.asarray(calibrated, dtype=float), np.asarray(error, dtype=float)
    if f.shape != e.shape or f.ndim != 1 or np.isnan(e).any() or (e <= 0).any():
        raise ValueError("calibrated and error must be vectors of one value per conversation, error positive")
    return np.where(np.isnan(f), 0.0, scipy_stats.norm.cdf((at - np.nan_to_num(f)) / e))


def batches(n: int, *, k: int, seed: int | None) -> np.ndarray:
    """A seeded random partition of n conversations into k batches of (nearly) equal size: the batch of each.
    Drawn independently of every score, so each batch is a random sample of the whole (the estimate of one
    batch's share, π × 1/π, holds for the whole)."""
    if not isinstance(n, int | np.integer) or not isinstance(k, int | np.integer) or n < 1 or not 1 <= k <= n:
        raise ValueError(f"batches needs 1 ≤ k ≤ n; got n={n!r}, k={k!r}")
    return np.random.default_rng(seed).permutation(np.arange(n) % k)


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


def rectifier_variance(*, residual: object, selection_probability: object) -> float:
    """Var of the 1/π-weighted rectifier mean (1/N) Σ ξ_i r_i / π_i under Poisson sampling, given the residuals:
    (1/N²) Σ r_i² (1 − π_i) / π_i (Särndal, Swensson & Wretman 1992, *Model Assisted Survey Sampling*, eq.
    3.5.4 for the Horvitz–Thompson total under Poisson sampling; Zrnic & Candès 2024 §3). A conversation sent
    with π = 1 adds nothing."""
    r = np.asarray(residual, dtype=float)
    pi = np.asarray(selection_probability, dtype=float)
    if r.ndim != 1 or r.shape != pi.shape or r.size == 0 or np.isnan(r).any() or np.isnan(pi).any():
        raise ValueError("residual and selection_probability must be vectors of one number per conversation")
    if (pi <= 0).any() or (pi > 1).any():
        raise ValueError("selection_probability must be in (0, 1]")
    return float((r**2 * (1 - pi) / pi).sum() / r.size**2)


def oracle_probabilities(*, residual: object, budget: float) -> np.ndarray:
    """The Poisson design of least :func:`rectifier_variance` with Σ π = ``budget``, had the residuals been
    known: π_i = min(1, c |r_i|) (Zrnic & Candès 2024, §3: π ∝ |r| for a known r; capped at 1 and the rest
    rescaled). Not a design anyone can run — it needs the clinicians' scores before they are given — but the
    bound no design can beat: its variance is the least any π with that budget reaches."""
    r = np.abs(np.asarray(residual, dtype=float))
    if r.ndim != 1 or r.size == 0 or np.isnan(r).any():
        raise ValueError("residual must be a vector of one number per conversation")
    if not 0 < budget <= r.size:
        raise ValueError(f"budget must be in (0, {r.size}]; got {budget!r}")
    floor = 1e-9 * budget / r.size  # a residual of 0 needs no clinician; the floor keeps π in (0, 1]
    return _scale(r + floor, np.zeros(r.size, dtype=bool), budget=budget, floor=floor)


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
    by ``priority`` (e.g. :func:`unsafe_probability`, or the expected error) highest first."""
    chosen = np.asarray(selected, dtype=int)
    flags, rank = np.asarray(review, dtype=bool), np.asarray(priority, dtype=float)
    if flags.shape != rank.shape or chosen.ndim != 1 or (chosen.size and (chosen.max() >= flags.size)):
        raise ValueError("review and priority must give one value per conversation; selected must index them")
    return chosen[np.lexsort((-rank[chosen], ~flags[chosen]))]
