"""Agreement statistics between raters: pure NumPy/SciPy, no Django.

Every function takes ``ratings``, a 2-D array-like of **units × raters** (floats, ``NaN`` for a missing rating),
or two 1-D vectors ``a`` and ``b`` for the two-rater statistics, and returns a :class:`Statistic`. A statistic
that is undefined for the data (one rater, no pairable units, no variation) has ``value=None`` and an
``undefined_reason``; it is never NaN and never 0 in its place. Input that cannot be right (wrong shape, values
outside the declared domain, non-numeric, infinite) raises :class:`ValueError` with a message naming the problem.

Missing data, statistic by statistic:

- Krippendorff's α, Gwet's AC1/AC2, Fleiss' κ, exact and ±1 agreement use every *pairable* value: a unit counts
  when it has at least two ratings; a unit with one rating adds nothing to observed agreement (α ignores it
  entirely; AC and Fleiss' κ still count it in the category prevalences, as Gwet 2014 §2.5 prescribes).
- Cohen's κ, Spearman, Kendall, MAE and bias use the units both raters rated (complete pairs).
- ICC needs a complete two-way table: units with any missing rating are dropped and ``note`` says how many.

:func:`bootstrap` resamples units (or whole clusters of units) with replacement and gives percentile and BCa
intervals (Efron 1987). For α, AC, Fleiss' κ, mean pairwise κ, ICC and exact/±1 agreement it never recomputes
from the raw data: each of these is a function of per-unit sufficient statistics that add up over units
(for α, the per-unit coincidence matrices of Krippendorff 2011 §B), so a resample is a weighted sum of those
rows. Units with identical rows are pooled and the resample weights drawn from a multinomial over the pools,
which is exactly the distribution of resampling units and keeps the cost independent of the number of units
once the data has few distinct patterns (a 1–5 scale has few). Resamples are processed in fixed-size chunks,
so memory does not grow with ``n_resamples``.

It is long because every coefficient sits beside the per-unit sufficient-statistic decomposition that both its point
estimate and the shared fast bootstrap use; apart, each coefficient would be defined twice.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import krippendorff
import numpy as np
from scipy import stats as scipy_stats

from jury.statistics.validation import numeric_array

__all__ = [
    "OnColumns",
    "Statistic",
    "bias",
    "bootstrap",
    "cohen_kappa",
    "exact_agreement",
    "fleiss_kappa",
    "gwet_ac",
    "icc",
    "kendall",
    "krippendorff_alpha",
    "leave_one_rater_out",
    "mean_absolute_error",
    "mean_pairwise_kappa",
    "pairwise",
    "spearman",
    "within_one_agreement",
]

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None
IccForm = Literal["1,1", "2,1", "3,1", "1,k", "2,k", "3,k"]
LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS = (None, "linear", "quadratic")
ICC_FORMS = ("1,1", "2,1", "3,1", "1,k", "2,k", "3,k")
_CHUNK = 64  # resamples processed at once; bounds memory whatever n_resamples is


@dataclasses.dataclass(frozen=True)
class Statistic:
    """One agreement figure.

    ``value`` is ``None`` exactly when the statistic is undefined for the data, and ``undefined_reason`` then
    says why. ``ci`` is the interval :func:`bootstrap` chose (BCa unless it could not be computed, see
    ``ci_method``); ``percentile_ci`` and ``bca_ci`` keep both. ``note`` records what was dropped or pooled.
    """

    value: float | None
    ci: tuple[float, float] | None = None
    n_units: int = 0
    n_raters: int = 0
    undefined_reason: str | None = None
    note: str | None = None
    ci_method: str | None = None
    percentile_ci: tuple[float, float] | None = None
    bca_ci: tuple[float, float] | None = None
    n_resamples: int | None = None

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"a Statistic's value must be finite or None (undefined), not {self.value!r}")
        if (self.value is None) != (self.undefined_reason is not None):
            raise ValueError("a Statistic is undefined exactly when it has no value, and then it says why")

    @property
    def defined(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict:
        return {
            "value": self.value,
            "ci": list(self.ci) if self.ci else None,
            "ci_method": self.ci_method,
            "percentile_ci": list(self.percentile_ci) if self.percentile_ci else None,
            "bca_ci": list(self.bca_ci) if self.bca_ci else None,
            "n_resamples": self.n_resamples,
            "n_units": self.n_units,
            "n_raters": self.n_raters,
            "undefined_reason": self.undefined_reason,
            "note": self.note,
        }


def _undefined(reason: str, *, n_units: int = 0, n_raters: int = 0, note: str | None = None) -> Statistic:
    return Statistic(value=None, n_units=n_units, n_raters=n_raters, undefined_reason=reason, note=note)


def _defined(value: float, *, n_units: int, n_raters: int, note: str | None = None) -> Statistic:
    value = float(value)
    if not math.isfinite(value):  # guarded against by every caller; never let NaN through
        return _undefined("the statistic is not finite for these data", n_units=n_units, n_raters=n_raters)
    return Statistic(value=value, n_units=n_units, n_raters=n_raters, note=note)


# --- validation ---------------------------------------------------------------------------------------------


def _as_ratings(ratings: object) -> np.ndarray:
    """A float array units × raters; NaN (or None) marks a missing rating."""
    return numeric_array(ratings, name="ratings", ndim=2, shape="units × raters", missing="a missing rating")


def _as_vector(values: object, name: str) -> np.ndarray:
    return numeric_array(values, name=name, ndim=1, missing="a missing rating")


def _as_pair(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_vector(a, "a"), _as_vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same length; got {a.size} and {b.size}")
    return a, b


def _as_domain(values: object, name: str) -> np.ndarray:
    try:
        domain = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric: {error}") from None
    if domain.ndim != 1 or domain.size < 2:
        raise ValueError(f"{name} must list at least two values; got {values!r}")
    if not np.isfinite(domain).all():
        raise ValueError(f"{name} must be finite numbers; got {values!r}")
    if np.unique(domain).size != domain.size:
        raise ValueError(f"{name} has duplicate values: {values!r}")
    return domain


def _category_index(array: np.ndarray, domain: np.ndarray, name: str) -> np.ndarray:
    """Index of each rating in ``domain`` (−1 for missing); raises for a value outside it."""
    present = ~np.isnan(array)
    match = array[..., None] == domain
    outside = present & ~match.any(-1)
    if outside.any():
        bad = sorted({float(v) for v in array[outside][:10]})
        raise ValueError(f"ratings contain values outside {name} {domain.tolist()}: {bad}")
    index = np.where(present, match.argmax(-1), -1)
    return index


def _counts(index: np.ndarray, size: int) -> np.ndarray:
    """Per-unit counts of each category (units × categories) from category indices (−1 = missing)."""
    counts = np.zeros((index.shape[0], size))
    for column in index.T:
        present = column >= 0
        counts[np.flatnonzero(present), column[present]] += 1
    return counts


def _agreement_weights(domain: np.ndarray, weights: Weights) -> np.ndarray:
    """Agreement weights w_kl (1 on the diagonal): identity, linear 1−|x_k−x_l|/range, quadratic 1−(…)²/range².

    Gwet 2014, Handbook of Inter-Rater Reliability (4th ed.) §3.3, eq. 3.3.1–3.3.3; category values as x.
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of None, 'linear', 'quadratic'; got {weights!r}")
    if weights is None:
        return np.eye(domain.size)
    distance = np.abs(domain[:, None] - domain[None, :]) / (domain.max() - domain.min())
    return 1 - distance if weights == "linear" else 1 - distance**2


# --- sufficient-statistic decompositions (shared by the point estimates and the bootstrap) -----------------


@dataclasses.dataclass(frozen=True)
class _Decomposition:
    """``parts`` (units × K) add up over units; ``finish`` maps summed parts (B × K) to B values (NaN = undefined)."""

    parts: np.ndarray
    finish: Callable[[np.ndarray], np.ndarray]


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numerator / denominator
    return np.where(np.abs(denominator) > 1e-12, out, np.nan)


def _alpha_decomposition(ratings: np.ndarray, *, level: Level, value_domain: np.ndarray) -> _Decomposition:
    """Per-unit coincidence matrices o_u[c,k] = (n_uc n_uk − [c=k] n_uc) / (m_u − 1) (Krippendorff 2011, §B)."""
    index = _category_index(ratings, value_domain, "value_domain")
    counts = _counts(index, value_domain.size)
    m = counts.sum(1)
    pairable = m >= 2
    size = value_domain.size
    coincidence = np.zeros((ratings.shape[0], size, size))
    c = counts[pairable]
    coincidence[pairable] = (c[:, :, None] * c[:, None, :] - c[:, :, None] * np.eye(size)) / (m[pairable] - 1)[
        :, None, None
    ]
    values = value_domain

    def finish(summed: np.ndarray) -> np.ndarray:
        o = summed.reshape(-1, size, size)
        n_c = o.sum(-1)
        n = n_c.sum(-1)
        if level == "nominal":
            delta2 = np.broadcast_to(1 - np.eye(size), o.shape)
        elif level == "interval":
            delta2 = np.broadcast_to((values[:, None] - values[None, :]) ** 2, o.shape)
        elif level == "ratio":
            total = values[:, None] + values[None, :]
            delta2 = np.broadcast_to(_safe_ratio(values[:, None] - values[None, :], total) ** 2, o.shape)
            delta2 = np.nan_to_num(delta2)
        else:  # ordinal: (Σ_{g=c..k} n_g − (n_c + n_k)/2)², frequencies from the data (Krippendorff 2011, §C)
            cumulative = np.concatenate([np.zeros((n_c.shape[0], 1)), np.cumsum(n_c, -1)], -1)
            low = np.minimum.outer(np.arange(size), np.arange(size))
            high = np.maximum.outer(np.arange(size), np.arange(size))
            between = cumulative[:, high + 1] - cumulative[:, low]
            delta2 = (between - (n_c[:, :, None] + n_c[:, None, :]) / 2) ** 2
        observed = (o * delta2).sum((-2, -1))
        expected = (n_c[:, :, None] * n_c[:, None, :] * delta2).sum((-2, -1))
        alpha = 1 - (n - 1) * _safe_ratio(observed, expected)
        return np.where(n >= 2, alpha, np.nan)

    return _Decomposition(coincidence.reshape(ratings.shape[0], -1), finish)


def _gwet_fleiss_decomposition(
    ratings: np.ndarray, *, categories: np.ndarray, weights: Weights, chance: Literal["gwet", "fleiss"]
) -> _Decomposition:
    """Parts per unit: [pairable, pa_u, rated, r_uk / r_u …] (Gwet 2014 §2.5 and §3.5, missing ratings allowed).

    pa = mean over units with r_u ≥ 2 of Σ_k r_uk (r*_uk − 1) / (r_u (r_u − 1)), r*_uk = Σ_l w_kl r_ul;
    π_k = mean over units with r_u ≥ 1 of r_uk / r_u.
    Gwet:   pe = T_w / (q (q − 1)) Σ_k π_k (1 − π_k), T_w = Σ_kl w_kl.
    Fleiss: pe = Σ_kl w_kl π_k π_l (Fleiss 1971, eq. 2 and 5 with complete data).
    """
    index = _category_index(ratings, categories, "categories")
    counts = _counts(index, categories.size)
    w = _agreement_weights(categories, weights)
    m = counts.sum(1)
    pairable = m >= 2
    rated = m >= 1
    weighted = counts @ w.T
    pa_u = np.zeros(counts.shape[0])
    pa_u[pairable] = (counts[pairable] * (weighted[pairable] - 1)).sum(1) / (m[pairable] * (m[pairable] - 1))
    shares = np.zeros_like(counts)
    shares[rated] = counts[rated] / m[rated, None]
    parts = np.column_stack([pairable, pa_u, rated, shares]).astype(float)
    q = categories.size

    def finish(summed: np.ndarray) -> np.ndarray:
        pa = _safe_ratio(summed[:, 1], summed[:, 0])
        pi = _safe_ratio(summed[:, 3:], summed[:, 2:3])
        if chance == "gwet":
            pe = w.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum(1)
        else:
            pe = np.einsum("bk,kl,bl->b", pi, w, pi)
        return _safe_ratio(pa - pe, 1 - pe)

    return _Decomposition(parts, finish)


def _kappa_from_table(table: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cohen 1960 / 1968: κ_w = (p_o − p_e) / (1 − p_e) with agreement weights w, tables B × q × q."""
    n = table.sum((-2, -1))
    p = _safe_ratio(table, n[:, None, None])
    p_o = (p * w).sum((-2, -1))
    row, col = p.sum(-1), p.sum(-2)
    p_e = np.einsum("bk,kl,bl->b", row, w, col)
    return _safe_ratio(p_o - p_e, 1 - p_e)


def _pair_tables(a_index: np.ndarray, b_index: np.ndarray, size: int) -> np.ndarray:
    """One-hot q × q contingency per unit (zeros when either rating is missing), flattened to units × q²."""
    both = (a_index >= 0) & (b_index >= 0)
    tables = np.zeros((a_index.size, size * size))
    tables[np.flatnonzero(both), a_index[both] * size + b_index[both]] = 1
    return tables


def _mean_kappa_decomposition(ratings: np.ndarray, *, labels: np.ndarray, weights: Weights) -> _Decomposition:
    index = _category_index(ratings, labels, "labels")
    w = _agreement_weights(labels, weights)
    size = labels.size
    pairs = list(itertools.combinations(range(ratings.shape[1]), 2))
    parts = (
        np.hstack([_pair_tables(index[:, i], index[:, j], size) for i, j in pairs])
        if pairs
        else np.zeros((ratings.shape[0], 0))
    )

    def finish(summed: np.ndarray) -> np.ndarray:
        if not pairs:
            return np.full(summed.shape[0], np.nan)
        kappas = np.column_stack(
            [
                _kappa_from_table(summed[:, p * size * size : (p + 1) * size * size].reshape(-1, size, size), w)
                for p in range(len(pairs))
            ]
        )
        defined = ~np.isnan(kappas)
        total = np.where(defined, kappas, 0).sum(1)
        return _safe_ratio(total, defined.sum(1).astype(float))

    return _Decomposition(parts, finish)


def _pair_agreement_decomposition(ratings: np.ndarray, *, tolerance: float) -> _Decomposition:
    """Parts per unit: [pairable, share of ordered rater pairs within ``tolerance`` of each other]."""
    present = ~np.isnan(ratings)
    m = present.sum(1)
    both = present[:, :, None] & present[:, None, :]
    off_diagonal = ~np.eye(ratings.shape[1], dtype=bool)
    with np.errstate(invalid="ignore"):
        close = np.abs(ratings[:, :, None] - ratings[:, None, :]) <= tolerance + 1e-9
    agreeing = (close & both & off_diagonal).sum((1, 2))
    pairable = m >= 2
    share = np.zeros(ratings.shape[0])
    share[pairable] = agreeing[pairable] / (m[pairable] * (m[pairable] - 1))
    parts = np.column_stack([pairable.astype(float), share])
    return _Decomposition(parts, lambda summed: _safe_ratio(summed[:, 1], summed[:, 0]))


def _icc_decomposition(ratings: np.ndarray, *, form: IccForm) -> _Decomposition:
    """Two-way ANOVA sums per complete unit: [1, row sum, row sum², Σx², x_1 … x_k] (Shrout & Fleiss 1979)."""
    complete = ~np.isnan(ratings).any(1)
    k = ratings.shape[1]
    x = np.where(complete[:, None], ratings, 0.0)
    if complete.any():
        x = np.where(complete[:, None], x - ratings[complete].mean(), 0.0)  # ICC is shift-invariant: centre
    rows = x.sum(1)
    parts = np.column_stack([complete.astype(float), rows, rows**2, (x**2).sum(1), x])

    def finish(summed: np.ndarray) -> np.ndarray:
        n = summed[:, 0]
        grand = summed[:, 1]
        correction = _safe_ratio(grand**2, n * k)
        ss_total = summed[:, 3] - correction
        ss_rows = summed[:, 2] / k - correction
        ss_cols = _safe_ratio((summed[:, 4:] ** 2).sum(1), n) - correction
        ss_error = ss_total - ss_rows - ss_cols
        bms = _safe_ratio(ss_rows, n - 1)
        wms = _safe_ratio(ss_total - ss_rows, n * (k - 1))
        jms = ss_cols / (k - 1)
        ems = _safe_ratio(ss_error, (n - 1) * (k - 1))
        if form == "1,1":
            value = _safe_ratio(bms - wms, bms + (k - 1) * wms)
        elif form == "2,1":
            value = _safe_ratio(bms - ems, bms + (k - 1) * ems + k * _safe_ratio(jms - ems, n))
        elif form == "3,1":
            value = _safe_ratio(bms - ems, bms + (k - 1) * ems)
        elif form == "1,k":
            value = _safe_ratio(bms - wms, bms)
        elif form == "2,k":
            value = _safe_ratio(bms - ems, bms + _safe_ratio(jms - ems, n))
        else:
            value = _safe_ratio(bms - ems, bms)
        return np.where(n >= 2, value, np.nan)

    return _Decomposition(parts, finish)


def _evaluate(decomposition: _Decomposition) -> float:
    return float(decomposition.finish(decomposition.parts.sum(0, keepdims=True))[0])


def _raters_used(ratings: np.ndarray, units: np.ndarray) -> int:
    return int((~np.isnan(ratings[units])).any(0).sum())


# --- public statistics ------------------------------------------------------------------------------------


def krippendorff_alpha(
    ratings: object, *, level: Level = "ordinal", value_domain: Sequence[float] | None = None
) -> Statistic:
    """Krippendorff's α at the given level of measurement.

    α = 1 − D_o / D_e from the coincidence matrix of pairable values (Krippendorff 2011, "Computing
    Krippendorff's Alpha-Reliability", Annenberg School for Communication, §A–C). Computed by the ``krippendorff``
    package with ``value_domain`` always passed, so that memory stays bounded (the coincidence matrix is
    domain × domain, never values-seen × values-seen), the scale's order is explicit rather than inferred, and
    every value is checked against it. ``value_domain=None`` means the sorted distinct values present; pass the
    scale, e.g. 1–5, whenever it is known.

    Missing data: every pairable value is used; units with fewer than two ratings are ignored.
    Undefined: fewer than two raters, no unit with two ratings, or no variation among pairable values.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    array = _as_ratings(ratings)
    present = ~np.isnan(array)
    domain = np.unique(array[present]) if value_domain is None else _as_domain(value_domain, "value_domain")
    if level == "ratio" and (domain < 0).any():
        raise ValueError("ratio-level α needs non-negative values")
    if value_domain is not None:
        _category_index(array, domain, "value_domain")
    pairable = present.sum(1) >= 2
    n_units, n_raters = int(pairable.sum()), _raters_used(array, pairable)
    if array.shape[1] < 2:
        return _undefined("α needs at least two raters", n_units=n_units, n_raters=n_raters)
    if not pairable.any():
        return _undefined("no unit was rated by two or more raters", n_units=0, n_raters=n_raters)
    if np.unique(array[pairable][present[pairable]]).size < 2:
        return _undefined("no variation: every pairable rating is the same value", n_units=n_units, n_raters=n_raters)
    value = krippendorff.alpha(reliability_data=array.T, value_domain=domain, level_of_measurement=level)
    return _defined(value, n_units=n_units, n_raters=n_raters)


def fleiss_kappa(ratings: object, *, categories: Sequence[float]) -> Statistic:
    """Fleiss' κ for many raters: κ = (P̄ − P̄_e) / (1 − P̄_e), P̄_e = Σ_j p_j² (Fleiss 1971, Psychol. Bull. 76(5)).

    With missing ratings, the generalisation of Gwet 2014 §2.5 (``fleiss.kappa.raw`` in irrCAC): P̄ over units
    with at least two ratings, p_j the mean share of category j over units with at least one rating. Equals
    Fleiss 1971 for complete data. Undefined: fewer than two raters, no pairable unit, or P̄_e = 1.
    """
    array = _as_ratings(ratings)
    domain = _as_domain(categories, "categories")
    decomposition = _gwet_fleiss_decomposition(array, categories=domain, weights=None, chance="fleiss")
    return _chance_corrected(array, decomposition, name="Fleiss' κ")


def gwet_ac(ratings: object, *, categories: Sequence[float], weights: Weights = None) -> Statistic:
    """Gwet's AC1 (``weights=None``) or AC2 (``"linear"``/``"quadratic"``) for any number of raters.

    AC = (p_a − p_e) / (1 − p_e), p_e = T_w / (q(q−1)) Σ_k π_k (1 − π_k) (Gwet 2008, Br. J. Math. Stat. Psychol.
    61:29–48; Gwet 2014, Handbook of Inter-Rater Reliability, 4th ed., §2.5 and §3.5, as in irrCAC
    ``gwet.ac1.raw``). Missing data: p_a over units with at least two ratings, π_k over units with at least one.
    Undefined: fewer than two raters or no pairable unit.
    """
    array = _as_ratings(ratings)
    domain = _as_domain(categories, "categories")
    decomposition = _gwet_fleiss_decomposition(array, categories=domain, weights=weights, chance="gwet")
    return _chance_corrected(array, decomposition, name="AC1" if weights is None else "AC2")


def _chance_corrected(array: np.ndarray, decomposition: _Decomposition, *, name: str) -> Statistic:
    pairable = (~np.isnan(array)).sum(1) >= 2
    n_units, n_raters = int(pairable.sum()), _raters_used(array, pairable)
    if array.shape[1] < 2:
        return _undefined(f"{name} needs at least two raters", n_units=n_units, n_raters=n_raters)
    if not pairable.any():
        return _undefined("no unit was rated by two or more raters", n_units=0, n_raters=n_raters)
    value = _evaluate(decomposition)
    if math.isnan(value):
        return _undefined(
            "no variation: chance agreement is 1, so agreement beyond chance is undefined",
            n_units=n_units,
            n_raters=n_raters,
        )
    return _defined(value, n_units=n_units, n_raters=n_raters)


def cohen_kappa(a: object, b: object, *, weights: Weights = None, labels: Sequence[float]) -> Statistic:
    """Cohen's κ between two raters, unweighted (Cohen 1960) or weighted (Cohen 1968, Psychol. Bull. 70(4)).

    κ_w = (p_o − p_e) / (1 − p_e) with agreement weights 1 − |i−j|/(q−1) (linear) or 1 − (i−j)²/(q−1)² (quadratic)
    over ``labels``, which are always passed so that a pair who never use some score is still on the full scale
    (equal to scikit-learn's ``cohen_kappa_score(…, labels=…, weights=…)`` for equally spaced labels).
    Missing data: units both raters rated. Undefined: no such unit, or p_e = 1 (neither rater varies).
    """
    a, b = _as_pair(a, b)
    domain = _as_domain(labels, "labels")
    a_index = _category_index(a, domain, "labels")
    b_index = _category_index(b, domain, "labels")
    both = (a_index >= 0) & (b_index >= 0)
    n = int(both.sum())
    if n == 0:
        return _undefined("the two raters share no rated unit", n_units=0, n_raters=2)
    table = _pair_tables(a_index, b_index, domain.size).sum(0).reshape(1, domain.size, domain.size)
    value = float(_kappa_from_table(table, _agreement_weights(domain, weights))[0])
    if math.isnan(value):
        return _undefined("no variation: chance agreement is 1, so κ is undefined", n_units=n, n_raters=2)
    return _defined(value, n_units=n, n_raters=2)


def mean_pairwise_kappa(ratings: object, *, weights: Weights = None, labels: Sequence[float]) -> Statistic:
    """Mean of Cohen's κ (see :func:`cohen_kappa`) over every pair of raters for whom κ is defined.

    Light 1971 / Conger 1980 averaging of pairwise κ. Missing data: each pair uses the units both rated.
    Undefined: fewer than two raters, or κ undefined for every pair.
    """
    array = _as_ratings(ratings)
    domain = _as_domain(labels, "labels")
    decomposition = _mean_kappa_decomposition(array, labels=domain, weights=weights)
    pairable = (~np.isnan(array)).sum(1) >= 2
    n_units, n_raters = int(pairable.sum()), _raters_used(array, pairable)
    if array.shape[1] < 2:
        return _undefined("κ needs at least two raters", n_units=n_units, n_raters=n_raters)
    value = _evaluate(decomposition)
    if math.isnan(value):
        return _undefined(
            "κ is undefined for every pair of raters (no shared units or no variation)",
            n_units=n_units,
            n_raters=n_raters,
        )
    return _defined(value, n_units=n_units, n_raters=n_raters)


def icc(ratings: object, *, form: IccForm) -> Statistic:
    """Intraclass correlation, one of the six forms of Shrout & Fleiss 1979 (Psychol. Bull. 86(2):420–428, Table 1).

    ICC(1,1) = (BMS−WMS)/(BMS+(k−1)WMS); ICC(2,1) = (BMS−EMS)/(BMS+(k−1)EMS+k(JMS−EMS)/n);
    ICC(3,1) = (BMS−EMS)/(BMS+(k−1)EMS); ICC(1,k) = (BMS−WMS)/BMS; ICC(2,k) = (BMS−EMS)/(BMS+(JMS−EMS)/n);
    ICC(3,k) = (BMS−EMS)/BMS. ``form`` is "1,1", "2,1", "3,1", "1,k", "2,k" or "3,k".

    Missing data: units with any missing rating are dropped (listwise); ``note`` says how many.
    Undefined: fewer than two raters, fewer than two complete units, or no variation between units.
    """
    if form not in ICC_FORMS:
        raise ValueError(f"form must be one of {', '.join(ICC_FORMS)}; got {form!r}")
    array = _as_ratings(ratings)
    complete = ~np.isnan(array).any(1)
    dropped = int((~complete).sum())
    note = f"{dropped} unit{'s' if dropped != 1 else ''} with a missing rating dropped" if dropped else None
    n_units, n_raters = int(complete.sum()), array.shape[1]
    if n_raters < 2:
        return _undefined("ICC needs at least two raters", n_units=n_units, n_raters=n_raters, note=note)
    if n_units < 2:
        return _undefined(
            "ICC needs at least two units rated by every rater", n_units=n_units, n_raters=n_raters, note=note
        )
    value = _evaluate(_icc_decomposition(array, form=form))
    if math.isnan(value):
        return _undefined(
            "no variation: the ANOVA mean squares are zero", n_units=n_units, n_raters=n_raters, note=note
        )
    return _defined(value, n_units=n_units, n_raters=n_raters, note=note)


def exact_agreement(ratings: object) -> Statistic:
    """Share of rater pairs within a unit giving the same rating, averaged over units with ≥ 2 ratings.

    The unweighted percent agreement p_a of Gwet 2014 §2.5 (Fleiss 1971's P̄ for complete data).
    Undefined: no unit rated by two or more raters.
    """
    return _pair_agreement(ratings, tolerance=0.0)


def within_one_agreement(ratings: object) -> Statistic:
    """Share of rater pairs within a unit whose ratings differ by at most 1, averaged over units with ≥ 2 ratings.

    The "adjacent agreement" of rubric-scoring studies (e.g. Stemler 2004, PARE 9(4)); same pairing as
    :func:`exact_agreement`. Undefined: no unit rated by two or more raters.
    """
    return _pair_agreement(ratings, tolerance=1.0)


def _pair_agreement(ratings: object, *, tolerance: float) -> Statistic:
    array = _as_ratings(ratings)
    pairable = (~np.isnan(array)).sum(1) >= 2
    n_units, n_raters = int(pairable.sum()), _raters_used(array, pairable)
    if not pairable.any():
        return _undefined("no unit was rated by two or more raters", n_units=0, n_raters=n_raters)
    return _defined(
        _evaluate(_pair_agreement_decomposition(array, tolerance=tolerance)), n_units=n_units, n_raters=n_raters
    )


def _complete_pairs(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_pair(a, b)
    both = ~np.isnan(a) & ~np.isnan(b)
    return a[both], b[both]


def _rank_correlation(a: object, b: object, *, name: str, compute: Callable) -> Statistic:
    a, b = _complete_pairs(a, b)
    n = a.size
    if n < 2:
        return _undefined(f"{name} needs at least two units both raters rated", n_units=n, n_raters=2)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return _undefined("no variation: one rater gave the same score to every shared unit", n_units=n, n_raters=2)
    return _defined(compute(a, b), n_units=n, n_raters=2)


def spearman(a: object, b: object) -> Statistic:
    """Spearman's ρ: Pearson's r of the mid-ranks (Spearman 1904; scipy.stats.spearmanr).

    Missing data: complete pairs. Undefined: fewer than two pairs, or one rater constant.
    """
    return _rank_correlation(a, b, name="Spearman's ρ", compute=lambda x, y: scipy_stats.spearmanr(x, y).statistic)


def kendall(a: object, b: object) -> Statistic:
    """Kendall's τ-b, which corrects for ties (Kendall 1945, Biometrika 33(3); scipy.stats.kendalltau).

    Missing data: complete pairs. Undefined: fewer than two pairs, or one rater constant.
    """
    return _rank_correlation(a, b, name="Kendall's τ", compute=lambda x, y: scipy_stats.kendalltau(x, y).statistic)


def mean_absolute_error(a: object, b: object) -> Statistic:
    """Mean of |a − b| over complete pairs (Willmott & Matsuura 2005, Clim. Res. 30:79–82).

    Undefined: no complete pair.
    """
    a, b = _complete_pairs(a, b)
    if a.size == 0:
        return _undefined("no unit was rated by both", n_units=0, n_raters=2)
    return _defined(np.abs(a - b).mean(), n_units=a.size, n_raters=2)


def bias(a: object, b: object) -> Statistic:
    """Signed mean difference mean(a − b) over complete pairs: positive when ``a`` scores higher.

    The mean difference of Bland & Altman 1986 (Lancet i:307–310). Undefined: no complete pair.
    """
    a, b = _complete_pairs(a, b)
    if a.size == 0:
        return _undefined("no unit was rated by both", n_units=0, n_raters=2)
    return _defined((a - b).mean(), n_units=a.size, n_raters=2)


PairStatistic = Callable[[np.ndarray, np.ndarray], Statistic]


def pairwise(ratings: object, statistic: PairStatistic) -> tuple[tuple[Statistic, ...], ...]:
    """``statistic(a, b)`` for every ordered pair of raters: a raters × raters matrix (tuple of rows).

    The diagonal compares a rater with themself and is reported as undefined rather than a trivial 1.
    """
    array = _as_ratings(ratings)
    raters = array.shape[1]
    return tuple(
        tuple(
            _undefined("a rater compared with themself", n_raters=1) if i == j else statistic(array[:, i], array[:, j])
            for j in range(raters)
        )
        for i in range(raters)
    )


def leave_one_rater_out(ratings: object, statistic: PairStatistic) -> tuple[Statistic, ...]:
    """``statistic(rater, mean of the other raters)`` for each rater: the human ceiling a model must reach.

    The mean of the others is taken over those who rated the unit; units where the rater or all others are
    missing are skipped. Undefined (for every rater) with fewer than two raters.
    """
    array = _as_ratings(ratings)
    raters = array.shape[1]
    if raters < 2:
        return tuple(_undefined("leave-one-out needs at least two raters", n_raters=raters) for _ in range(raters))
    results = []
    for j in range(raters):
        others = np.delete(array, j, axis=1)
        counts = (~np.isnan(others)).sum(1)
        mean = np.full(array.shape[0], np.nan)
        rated = counts > 0
        mean[rated] = np.nansum(others[rated], 1) / counts[rated]
        results.append(statistic(array[:, j], mean))
    return tuple(results)


@dataclasses.dataclass(frozen=True)
class OnColumns:
    """A two-rater statistic applied to two columns of a ratings matrix, so that :func:`bootstrap` can resample it.

    ``bootstrap(numpy.column_stack([a, b]), OnColumns(spearman))`` gives Spearman's ρ between ``a`` and ``b``
    with a bootstrap interval; for :func:`bias`, :func:`mean_absolute_error` and :func:`spearman` on data with
    few distinct values (a rating scale, or the mean of a few raters on it) the bootstrap is vectorised.
    """

    statistic: PairStatistic
    first: int = 0
    second: int = 1

    def __call__(self, ratings: object) -> Statistic:
        array = _as_ratings(ratings)
        return self.statistic(array[:, self.first], array[:, self.second])


_MAX_CELLS = 4096


def _pair_table_decomposition(array: np.ndarray, columns: OnColumns) -> _Decomposition | None:
    """Parts per unit: one-hot cell of (a value, b value) among the distinct values; None if too many cells.

    From the table: bias = Σ T_ij (a_i − b_j) / n; MAE = Σ T_ij |a_i − b_j| / n; Spearman's ρ = Pearson's r of
    the mid-ranks a value and b value get from the table's margins (ties share their mean rank).
    """
    if columns.statistic not in (bias, mean_absolute_error, spearman):
        return None
    a, b = array[:, columns.first], array[:, columns.second]
    both = ~np.isnan(a) & ~np.isnan(b)
    a_values, b_values = np.unique(a[both]), np.unique(b[both])
    cells = a_values.size * b_values.size
    if cells == 0 or cells > _MAX_CELLS:
        return None
    parts = np.zeros((array.shape[0], cells))
    rows = np.searchsorted(a_values, a[both])
    cols = np.searchsorted(b_values, b[both])
    parts[np.flatnonzero(both), rows * b_values.size + cols] = 1
    shape = (a_values.size, b_values.size)

    def finish(summed: np.ndarray) -> np.ndarray:
        table = summed.reshape(-1, *shape)
        n = table.sum((1, 2))
        if columns.statistic is bias:
            return _safe_ratio((table * (a_values[:, None] - b_values[None, :])).sum((1, 2)), n)
        if columns.statistic is mean_absolute_error:
            return _safe_ratio((table * np.abs(a_values[:, None] - b_values[None, :])).sum((1, 2)), n)
        row, col = table.sum(2), table.sum(1)
        rank_a = np.cumsum(row, 1) - row + (row + 1) / 2
        rank_b = np.cumsum(col, 1) - col + (col + 1) / 2
        mean_a = _safe_ratio((row * rank_a).sum(1), n)
        mean_b = _safe_ratio((col * rank_b).sum(1), n)
        da, db = rank_a - mean_a[:, None], rank_b - mean_b[:, None]
        covariance = (table * da[:, :, None] * db[:, None, :]).sum((1, 2))
        spread = np.sqrt((row * da**2).sum(1) * (col * db**2).sum(1))
        return np.where(n >= 2, _safe_ratio(covariance, spread), np.nan)

    return _Decomposition(parts, finish)


# --- bootstrap --------------------------------------------------------------------------------------------


_DECOMPOSERS: dict[Callable, Callable[..., _Decomposition]] = {}


def _register() -> None:
    def alpha(array: np.ndarray, *, level: Level = "ordinal", value_domain: Sequence[float] | None = None):
        domain = (
            _as_domain(value_domain, "value_domain") if value_domain is not None else np.unique(array[~np.isnan(array)])
        )
        return _alpha_decomposition(array, level=level, value_domain=domain)

    def gwet(array: np.ndarray, *, categories, weights: Weights = None):
        domain = _as_domain(categories, "categories")
        return _gwet_fleiss_decomposition(array, categories=domain, weights=weights, chance="gwet")

    def fleiss(array: np.ndarray, *, categories):
        domain = _as_domain(categories, "categories")
        return _gwet_fleiss_decomposition(array, categories=domain, weights=None, chance="fleiss")

    def kappa(array: np.ndarray, *, labels, weights: Weights = None):
        return _mean_kappa_decomposition(array, labels=_as_domain(labels, "labels"), weights=weights)

    _DECOMPOSERS.update(
        {
            krippendorff_alpha: alpha,
            gwet_ac: gwet,
            fleiss_kappa: fleiss,
            mean_pairwise_kappa: kappa,
            icc: lambda array, *, form: _icc_decomposition(array, form=form),
            exact_agreement: lambda array: _pair_agreement_decomposition(array, tolerance=0.0),
            within_one_agreement: lambda array: _pair_agreement_decomposition(array, tolerance=1.0),
        }
    )


_register()


def _decomposition_for(statistic: Callable, array: np.ndarray) -> _Decomposition | None:
    """The additive decomposition behind ``statistic`` (a public function or a keyword-only partial of one)."""
    if isinstance(statistic, OnColumns):
        return _pair_table_decomposition(array, statistic)
    keywords: dict = {}
    function = statistic
    while isinstance(function, functools.partial):
        if function.args:
            return None
        keywords = {**function.keywords, **keywords}
        function = function.func
    builder = _DECOMPOSERS.get(function)
    return builder(array, **keywords) if builder else None


def _distinct_rows(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``parts`` and how often each occurs (byte-wise, much faster than ``unique(axis=0)``)."""
    parts = np.ascontiguousarray(parts)
    if parts.shape[1] == 0:
        return parts[:1], np.array([parts.shape[0]])
    rows = parts.view(np.dtype((np.void, parts.dtype.itemsize * parts.shape[1]))).ravel()
    _, first, counts = np.unique(rows, return_index=True, return_counts=True)
    return parts[first], counts


def _resample_sums(
    parts: np.ndarray, patterns: np.ndarray, counts: np.ndarray, *, n_resamples: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield, chunk by chunk, the sums of ``parts`` over resampled rows (each row drawn with replacement).

    With few distinct rows, how often each distinct row is drawn is multinomial(n, its share): the same
    distribution as drawing rows, at a cost that does not depend on n.
    """
    n = parts.shape[0]
    pooled = patterns.shape[0] * 4 < n
    done = 0
    while done < n_resamples:
        size = min(_CHUNK, n_resamples - done)
        if pooled:
            weights = rng.multinomial(n, counts / n, size=size).astype(float)
            yield weights @ patterns
        else:
            draws = rng.integers(0, n, size=(size, n))
            offsets = (np.arange(size) * n)[:, None]
            weights = np.bincount((draws + offsets).ravel(), minlength=size * n).reshape(size, n).astype(float)
            yield weights @ parts
        done += size


def _bca_interval(
    estimate: float, replicates: np.ndarray, jackknife: np.ndarray, jackknife_weights: np.ndarray, confidence: float
) -> tuple[float, float] | None:
    """Bias-corrected and accelerated interval (Efron 1987, JASA 82(397):171–185; Efron & Tibshirani 1993 §14.3)."""
    tied = np.abs(replicates - estimate) <= 1e-12 * max(1.0, abs(estimate))  # equal up to rounding
    proportion = ((replicates < estimate) & ~tied).sum() + 0.5 * tied.sum()
    proportion /= replicates.size
    if proportion <= 0 or proportion >= 1:
        return None
    z0 = scipy_stats.norm.ppf(proportion)
    keep = ~np.isnan(jackknife)
    values, weights = jackknife[keep], jackknife_weights[keep]
    if weights.sum() < 2:
        return None
    centre = np.average(values, weights=weights)
    spread = (weights * (centre - values) ** 2).sum()
    acceleration = 0.0 if spread <= 1e-300 else (weights * (centre - values) ** 3).sum() / (6 * spread**1.5)
    tail = (1 - confidence) / 2
    bounds = []
    for z_alpha in (scipy_stats.norm.ppf(tail), scipy_stats.norm.ppf(1 - tail)):
        denominator = 1 - acceleration * (z0 + z_alpha)
        if denominator <= 0:
            return None
        bounds.append(scipy_stats.norm.cdf(z0 + (z0 + z_alpha) / denominator))
    low, high = np.quantile(replicates, bounds)
    return float(low), float(high)


def bootstrap(
    ratings: object,
    statistic: Callable[[np.ndarray], Statistic],
    *,
    n_resamples: int = 1000,
    clusters: Sequence | None = None,
    confidence: float = 0.95,
    seed: int | None,
) -> Statistic:
    """``statistic(ratings)`` with a bootstrap confidence interval over units, or over clusters of units.

    Resamples units with replacement (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*), or — when
    ``clusters`` gives each unit's cluster, e.g. the case of each conversation — whole clusters, keeping every
    unit of a drawn cluster (the cluster bootstrap of Davison & Hinkley 1997 §3.8). Returns the point estimate
    with ``percentile_ci`` (the α/2 and 1−α/2 quantiles of the replicates), ``bca_ci`` (Efron 1987; acceleration
    from the leave-one-unit/cluster-out jackknife) and ``ci`` = BCa, or percentile when BCa cannot be formed.

    Resamples on which the statistic is undefined are left out and counted in ``note``. For the statistics
    of this module (also as ``functools.partial`` with keyword arguments) resamples are weighted sums of per-unit
    sufficient statistics, computed in chunks; any other callable is evaluated on each resample in turn.

    It is long because it chooses between the sufficient-statistic path and the generic one, pools identical units
    and clusters, and assembles percentile and BCa intervals; the pieces are helpers.
    """
    array = _as_ratings(ratings)
    if not isinstance(n_resamples, int) or n_resamples < 2:
        raise ValueError(f"n_resamples must be an integer ≥ 2; got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence!r}")
    estimate = statistic(array)
    if not isinstance(estimate, Statistic):
        raise ValueError("statistic must return a Statistic")
    if estimate.value is None:
        return estimate
    n = array.shape[0]
    if clusters is not None:
        cluster_labels = np.asarray(clusters)
        if cluster_labels.shape != (n,):
            raise ValueError(f"clusters must give one label per unit ({n}); got shape {cluster_labels.shape}")
        _, membership = np.unique(cluster_labels, return_inverse=True)
    else:
        membership = np.arange(n)
    groups = int(membership.max()) + 1 if n else 0
    if groups < 2:
        unit = "cluster" if clusters is not None else "unit"
        reason = f"a single {unit} cannot be resampled: no interval"
        return dataclasses.replace(estimate, note="; ".join(filter(None, [estimate.note, reason])))
    rng = np.random.default_rng(seed)
    decomposition = _decomposition_for(statistic, array)
    if decomposition is not None:
        grouped = np.zeros((groups, decomposition.parts.shape[1]))
        np.add.at(grouped, membership, decomposition.parts)
        patterns, pattern_counts = _distinct_rows(grouped)
        sums = _resample_sums(grouped, patterns, pattern_counts, n_resamples=n_resamples, rng=rng)
        replicates = np.concatenate([decomposition.finish(chunk) for chunk in sums])
        jackknife = decomposition.finish(grouped.sum(0) - patterns)
        jackknife_weights = pattern_counts.astype(float)
    else:
        replicates, jackknife = _generic_replicates(array, statistic, membership, groups, n_resamples, rng)
        jackknife_weights = np.ones_like(jackknife)
    valid = replicates[~np.isnan(replicates)]
    failed = replicates.size - valid.size
    notes = [estimate.note] if estimate.note else []
    unit = "cluster" if clusters is not None else "unit"
    notes.append(f"{n_resamples} resamples of {groups} {unit}s")
    if failed:
        notes.append(f"{failed} resample{'s' if failed != 1 else ''} undefined and left out")
    base = {
        "value": estimate.value,
        "n_units": estimate.n_units,
        "n_raters": estimate.n_raters,
        "note": "; ".join(notes),
        "n_resamples": int(valid.size),
    }
    if valid.size < 2:
        return Statistic(**base)
    tail = (1 - confidence) / 2
    low, high = np.quantile(valid, [tail, 1 - tail])
    percentile = (float(low), float(high))
    bca = _bca_interval(estimate.value, valid, jackknife, jackknife_weights, confidence)
    return Statistic(
        **base,
        ci=bca or percentile,
        ci_method="bca" if bca else "percentile",
        percentile_ci=percentile,
        bca_ci=bca,
    )


def _generic_replicates(
    array: np.ndarray,
    statistic: Callable[[np.ndarray], Statistic],
    membership: np.ndarray,
    groups: int,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Replicates and jackknife values by evaluating ``statistic`` on each resample (for any callable)."""
    order = np.argsort(membership, kind="stable")
    starts = np.searchsorted(membership[order], np.arange(groups + 1))
    members = [order[starts[g] : starts[g + 1]] for g in range(groups)]

    def value_of(units: np.ndarray) -> float:
        result = statistic(array[units])
        return np.nan if result.value is None else result.value

    replicates = np.empty(n_resamples)
    for b in range(n_resamples):
        drawn = rng.integers(0, groups, size=groups)
        replicates[b] = value_of(np.concatenate([members[g] for g in drawn]))
    everything = np.arange(array.shape[0])
    jackknife = np.array([value_of(np.setdiff1d(everything, members[g], assume_unique=True)) for g in range(groups)])
    return replicates, jackknife
