"""Calibrating the LLM jury against clinicians: pure NumPy/SciPy, no Django.

Input, per rubric dimension: ``scores``, a 2-D array-like of **conversations × judge-prompts** (floats, ``NaN``
where a judge-prompt did not score the conversation); ``target``, the clinicians' score of each conversation
(the mean of the clinicians, or the adjudicated score where one exists; ``NaN`` where there is none — such
conversations are left out of fitting and evaluation); and ``groups``, the case of each conversation.

Methods (:data:`METHODS`), every one fitted by :func:`fit` into a :class:`Calibration` whose ``predict`` maps a
scores matrix to one jury score per conversation on the clinicians' scale (clipped to ``scale``):

- ``equal`` — the mean of the judges present: the equal-weight jury, "Panel of LLM evaluators" (PoLL) of
  Verga et al. 2024, *Replacing Judges with Juries: Evaluating LLM Generations with a Panel of Diverse Models*,
  arXiv:2404.18796. The baseline every other method must beat on held-out cases.
- ``best_single`` — the one judge-prompt with the lowest MAE on the training conversations it scored (a raw,
  unfitted judge, so its training error is already an out-of-sample estimate of its error; a judge must have
  scored at least half of the training conversations to be eligible).
- ``weighted`` — non-negative weights summing to one plus an affine map, by constrained least squares::

      minimise over (w, a, b)   Σ_i (a + b · s_i(w) − y_i)²   subject to  w_j ≥ 0,  Σ_j w_j = 1,
      s_i(w) = Σ_{j present in i} w_j x_ij / Σ_{j present in i} w_j

  i.e. a missing judge's weight is redistributed over the judges present in proportion to their weights
  (renormalisation). Solved by SLSQP (Kraft 1988, as ``scipy.optimize.minimize(method="SLSQP")``) with the
  analytic gradient, from the equal weights and the least-squares affine map of the equal jury. When every
  judge present on a conversation has weight 0 the mean of the judges present is used instead.
- ``isotonic`` — the ``weighted`` score, then a monotone non-decreasing map onto the clinicians' scale fitted
  by the pool-adjacent-violators algorithm (Barlow, Bartholomew, Bremner & Brunk 1972, *Statistical Inference
  under Order Restrictions*; used for calibration by Zadrozny & Elkan 2002, KDD, "Transforming classifier scores
  into accurate multiclass probability estimates"), via ``scipy.optimize.isotonic_regression``; linear
  interpolation between fitted points, constant beyond the ends, clipped to ``scale``.

:func:`cross_validate` runs grouped k-fold cross-validation by case (no case is ever in both a training and a
test fold; the fold of each case is a deterministic function of ``seed``), pools the held-out predictions, and
reports for each method MAE, RMSE, Spearman's ρ, quadratic-weighted Cohen's κ against the rounded consensus and
Krippendorff's α (ordinal) of the clinicians with the rounded jury added as one more rater — beside the
clinician leave-one-out ceiling (each clinician against the mean of the others, from :mod:`jury.statistics.agreement`).
A method other than ``equal`` is chosen only when it beats ``equal`` on held-out MAE by at least ``margin``
*and* by more than 1.96 case-clustered standard errors of the paired difference; otherwise the report says
plainly that calibration does not beat the equal-weight jury and ``equal`` is used.

Figures are :class:`jury.statistics.agreement.Statistic`; bad input raises :class:`ValueError` naming the problem.

It is long because the four calibration methods, their grouped cross-validation and the report they produce are one
procedure from one source; the input checks are shared in validation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import optimize

from jury.statistics.agreement import (
    Statistic,
    cohen_kappa,
    krippendorff_alpha,
    leave_one_rater_out,
    mean_absolute_error,
    spearman,
)
from jury.statistics.validation import numeric_array, vector_of_length

__all__ = [
    "METHODS",
    "Calibration",
    "CalibrationReport",
    "MethodResult",
    "cross_validate",
    "fit",
    "grouped_folds",
]

Method = Literal["equal", "best_single", "weighted", "isotonic"]
METHODS: tuple[str, ...] = ("equal", "best_single", "weighted", "isotonic")
METHOD_LABELS = {
    "equal": "equal-weight jury",
    "best_single": "best single judge",
    "weighted": "weighted jury",
    "isotonic": "isotonic",
    "affine": "affine calibration",
    "linear": "linear calibration",
}
DEFAULT_SCALE = (1.0, 5.0)
_EPS = 1e-12
_Z95 = 1.959963984540054


# --- validation -------------------------------------------------------------------------------------------


def _as_scores(scores: object) -> np.ndarray:
    return numeric_array(
        scores, name="scores", ndim=2, shape="conversations × judge-prompts", missing="a missing score", min_columns=1
    )


def _as_target(target: object, n: int) -> np.ndarray:
    return vector_of_length(target, name="target", n=n, what="one score per conversation", missing="no clinician score")


def _as_groups(groups: object, n: int) -> np.ndarray:
    """Integer index of each conversation's case (cases in sorted order of their labels)."""
    labels = np.asarray(groups)
    if labels.shape != (n,):
        raise ValueError(f"groups must give the case of each conversation ({n}); got shape {labels.shape}")
    if labels.dtype == object and any(label is None for label in labels):
        raise ValueError("groups contain None: every conversation needs a case")
    try:
        _, index = np.unique(labels, return_inverse=True)
    except TypeError as error:
        raise ValueError(f"groups must be labels of one comparable type: {error}") from None
    return index.reshape(-1)


def _judge_names(judges: Sequence[str] | None, k: int) -> tuple[str, ...]:
    if judges is None:
        return tuple(f"judge {j}" for j in range(k))
    names = tuple(str(judge) for judge in judges)
    if len(names) != k:
        raise ValueError(f"judges must name each of the {k} score columns; got {len(names)} names")
    if len(set(names)) != len(names):
        raise ValueError(f"judges contain duplicate names: {sorted({n for n in names if names.count(n) > 1})}")
    return names


def _as_scale(scale: Sequence[float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be two numbers (low, high); got {scale!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"scale must be finite with low < high; got {scale!r}")
    return low, high


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")


# --- the combined score -----------------------------------------------------------------------------------


def _combine(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_present w_j x_j / Σ_present w_j per row; the plain mean of those present when their weights sum to 0;
    NaN when no judge is present."""
    present = ~np.isnan(scores)
    filled = np.where(present, scores, 0.0)
    count = present.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = filled.sum(1) / count
        denominator = present @ weights
        weighted = (filled @ weights) / denominator
    combined = np.where(denominator > _EPS, weighted, plain)
    return np.where(count > 0, combined, np.nan)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A fitted calibration: ``predict(scores)`` = clip(iso(a + b · s(w)), scale), with ``s`` the renormalised
    weighted mean of the judges present (see the module docstring), ``iso`` the identity unless ``knots_x`` is
    set (then linear interpolation through the knots). Everything needed to reproduce a prediction is here."""

    method: str
    judges: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float = 0.0
    slope: float = 1.0
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    scale: tuple[float, float] = DEFAULT_SCALE
    n_train: int = 0
    note: str | None = None

    def combined(self, scores: object) -> np.ndarray:
        """The renormalised weighted mean of the judges present on each row (before the affine map)."""
        array = _as_scores(scores)
        if array.shape[1] != len(self.judges):
            raise ValueError(
                f"scores have {array.shape[1]} judge-prompt columns; this calibration was fitted on "
                f"{len(self.judges)} ({', '.join(self.judges)})"
            )
        return _combine(array, np.asarray(self.weights, dtype=float))

    def predict(self, scores: object) -> np.ndarray:
        """One jury score per conversation on the clinicians' scale; NaN where no judge scored it."""
        values = self.intercept + self.slope * self.combined(scores)
        if self.knots_x:
            present = ~np.isnan(values)
            values[present] = np.interp(values[present], self.knots_x, self.knots_y)
        return np.clip(values, *self.scale)

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "weights": dict(zip(self.judges, self.weights, strict=True)),
            "intercept": self.intercept,
            "slope": self.slope,
            "knots": [list(pair) for pair in zip(self.knots_x, self.knots_y, strict=True)],
            "scale": list(self.scale),
            "n_train": self.n_train,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """The calibration :meth:`as_dict` wrote (e.g. read back from a stored artifact)."""
        try:
            _check_method(data["method"])
            weights = dict(data["weights"])
            knots = [tuple(float(v) for v in knot) for knot in data.get("knots", [])]
            calibration = cls(
                method=data["method"],
                judges=tuple(str(j) for j in weights),
                weights=tuple(float(w) for w in weights.values()),
                intercept=float(data.get("intercept", 0.0)),
                slope=float(data.get("slope", 1.0)),
                knots_x=tuple(x for x, _ in knots),
                knots_y=tuple(y for _, y in knots),
                scale=_as_scale(data.get("scale", DEFAULT_SCALE)),
                n_train=int(data.get("n_train", 0)),
                note=data.get("note"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a stored calibration: {error}") from None
        values = np.array([*calibration.weights, calibration.intercept, calibration.slope, *calibration.knots_x])
        if not np.isfinite(values).all() or min(calibration.weights, default=-1) < 0:
            raise ValueError("a stored calibration needs finite values and non-negative weights")
        if not calibration.weights or sum(calibration.weights) <= 0:
            raise ValueError("a stored calibration needs at least one positive weight")
        return calibration


# --- fitting ----------------------------------------------------------------------------------------------


def _usable(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    return ~np.isnan(target) & (~np.isnan(scores)).any(1)


def _affine(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Ordinary least squares y ≈ a + b s (b = 0 when s does not vary)."""
    spread = s - s.mean()
    variance = (spread**2).sum()
    slope = float((spread * (y - y.mean())).sum() / variance) if variance > _EPS * s.size else 0.0
    return float(y.mean() - slope * s.mean()), slope


def _fit_equal(scores: np.ndarray, target: np.ndarray, judges: tuple[str, ...], scale) -> Calibration:
    k = scores.shape[1]
    n = int(_usable(scores, target).sum())
    return Calibration("equal", judges, tuple([1.0 / k] * k), scale=scale, n_train=n)


def _fit_best_single(scores: np.ndarray, target: np.ndarray, judges: tuple[str, ...], scale) -> Calibration:
    rows = _usable(scores, target)
    x, y = scores[rows], target[rows]
    present = ~np.isnan(x)
    coverage = present.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        errors = np.where(present, np.abs(np.clip(x, *scale) - y[:, None]), 0.0).sum(0) / coverage
    eligible = coverage >= max(1, math.ceil(0.5 * rows.sum()))
    note = None
    if not eligible.any():
        eligible = coverage > 0
        note = "no judge-prompt scored half of the training conversations; the best of those with any score"
    best = int(np.argmin(np.where(eligible, errors, np.inf)))
    weights = np.zeros(scores.shape[1])
    weights[best] = 1.0
    missing = int((~present[:, best]).sum())
    if missing:
        extra = f"{judges[best]} missed {missing} training conversations; there the mean of the judges present"
        note = "; ".join(filter(None, [note, extra]))
    return Calibration("best_single", judges, tuple(weights.tolist()), scale=scale, n_train=int(rows.sum()), note=note)


def _fit_weighted(scores: np.ndarray, target: np.ndarray, judges: tuple[str, ...], scale) -> Calibration:
    rows = _usable(scores, target)
    x, y = scores[rows], target[rows]
    n, k = x.shape
    present = ~np.isnan(x)
    filled = np.where(present, x, 0.0)
    count = present.sum(1)
    plain = filled.sum(1) / count
    active = present.any(0)
    start_w = active / active.sum()
    a0, b0 = _affine(_combine(x, start_w), y)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, a, b = theta[:k], theta[k], theta[k + 1]
        denominator = present @ w
        ok = denominator > _EPS
        safe = np.where(ok, denominator, 1.0)
        s = np.where(ok, (filled @ w) / safe, plain)
        residual = a + b * s - y
        gradient = np.empty(k + 2)
        # ∂s_i/∂w_j = (x_ij − s_i) [j present in i] / Σ_present w
        ds = np.where(ok[:, None], (filled - s[:, None] * present) / safe[:, None], 0.0)
        gradient[:k] = 2.0 * b * (residual @ ds) / n
        gradient[k] = 2.0 * residual.mean()
        gradient[k + 1] = 2.0 * (residual * s).mean()
        return float((residual**2).mean()), gradient

    theta0 = np.concatenate([start_w, [a0, b0]])
    bounds = [(0.0, 1.0) if is_active else (0.0, 0.0) for is_active in active] + [(None, None), (None, None)]
    constraint = {
        "type": "eq",
        "fun": lambda theta: theta[:k].sum() - 1.0,
        "jac": lambda theta: np.concatenate([np.ones(k), [0.0, 0.0]]),
    }
    result = optimize.minimize(
        loss,
        theta0,
        jac=True,
        method="SLSQP",
        bounds=bounds,
        constraints=[constraint],
        options={"maxiter": 500, "ftol": 1e-12},
    )
    note = None
    theta = result.x
    if not np.isfinite(theta).all() or loss(theta)[0] > loss(theta0)[0]:
        theta = theta0
        note = f"SLSQP did not improve on the equal weights ({result.message}); equal weights kept"
    w = np.clip(theta[:k], 0.0, None)
    w[w < 1e-9] = 0.0
    w = w / w.sum()
    a, b = _affine(_combine(x, w), y)  # exact affine map for the cleaned weights
    if not active.all():
        absent = ", ".join(j for j, is_active in zip(judges, active, strict=True) if not is_active)
        note = "; ".join(filter(None, [note, f"no training score from {absent}: weight 0"]))
    return Calibration(
        "weighted", judges, tuple(w.tolist()), intercept=a, slope=b, scale=scale, n_train=int(n), note=note
    )


def _pav(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-decreasing least-squares fit of y on x (ties in x pooled first); knots where the fit changes."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    unique_x, start, counts = np.unique(xs, return_index=True, return_counts=True)
    means = np.add.reduceat(ys, start) / counts
    fitted = optimize.isotonic_regression(means, weights=counts.astype(float), increasing=True).x
    # Keep the first and last point of each constant block: the same piecewise-linear interpolant, fewer knots.
    change = np.flatnonzero(np.diff(fitted) != 0)
    keep = np.unique(np.concatenate([[0, unique_x.size - 1], change, change + 1]))
    return unique_x[keep], fitted[keep]


def _fit_isotonic(
    scores: np.ndarray, target: np.ndarray, judges: tuple[str, ...], scale, base: Calibration | None = None
) -> Calibration:
    base = base or _fit_weighted(scores, target, judges, scale)
    rows = _usable(scores, target)
    z = base.intercept + base.slope * _combine(scores[rows], np.asarray(base.weights))
    knots_x, knots_y = _pav(z, target[rows])
    knots_y = np.clip(knots_y, *scale)
    return dataclasses.replace(
        base, method="isotonic", knots_x=tuple(knots_x.tolist()), knots_y=tuple(knots_y.tolist())
    )


_FITTERS = {"equal": _fit_equal, "best_single": _fit_best_single, "weighted": _fit_weighted, "isotonic": _fit_isotonic}


def fit(
    scores: object,
    target: object,
    *,
    method: Method,
    judges: Sequence[str] | None = None,
    scale: Sequence[float] = DEFAULT_SCALE,
) -> Calibration:
    """Fit one calibration ``method`` (see :data:`METHODS`) of judge ``scores`` to the clinicians' ``target``.

    Parameters
    ----------
    scores : conversations × judge-prompts, NaN where missing.
    target : clinician score per conversation (mean of clinicians, or the adjudicated score); NaN = none.
    method : ``equal``, ``best_single``, ``weighted`` or ``isotonic``.
    judges : a name per column (default ``judge 0`` …).
    scale : the clinicians' scale; predictions are clipped to it.

    Returns
    -------
    Calibration, whose ``predict`` applies it. Conversations without a target or without any judge score are
    ignored; at least two must remain.
    """
    _check_method(method)
    array = _as_scores(scores)
    y = _as_target(target, array.shape[0])
    names = _judge_names(judges, array.shape[1])
    bounds = _as_scale(scale)
    if _usable(array, y).sum() < 2:
        raise ValueError("fitting needs at least two conversations with both a target and a judge score")
    return _FITTERS[method](array, y, names, bounds)


# --- cross-validation -------------------------------------------------------------------------------------


def grouped_folds(groups: object, *, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """The fold (0 … n_folds−1) of each conversation: every conversation of a case in the same fold.

    Cases are shuffled by ``seed``, then taken largest first (stable, so shuffled order breaks ties) and each
    put in the fold with the fewest conversations so far (lowest index on ties): balanced, deterministic.
    """
    if not isinstance(n_folds, int | np.integer) or isinstance(n_folds, bool) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer ≥ 2; got {n_folds!r}")
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise ValueError(f"groups must be 1-D, the case of each conversation; got shape {labels.shape}")
    index = _as_groups(labels, labels.shape[0])
    n_groups = int(index.max()) + 1 if index.size else 0
    if n_groups < n_folds:
        raise ValueError(f"grouped {n_folds}-fold cross-validation needs at least {n_folds} cases; got {n_groups}")
    sizes = np.bincount(index, minlength=n_groups)
    order = np.random.default_rng(seed).permutation(n_groups)
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_group = np.empty(n_groups, dtype=int)
    load = np.zeros(n_folds, dtype=int)
    for group in order:
        fold = int(np.argmin(load))
        fold_of_group[group] = fold
        load[fold] += sizes[group]
    return fold_of_group[index]


def _statistic(value: float, *, n_units: int, n_raters: int = 2, note: str | None = None, **extra) -> Statistic:
    if not math.isfinite(value):
        return Statistic(value=None, n_units=n_units, n_raters=n_raters, undefined_reason="not finite", note=note)
    return Statistic(value=float(value), n_units=n_units, n_raters=n_raters, note=note, **extra)


def _undefined(reason: str, **extra) -> Statistic:
    return Statistic(value=None, undefined_reason=reason, **extra)


def _round_half_up(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    return np.clip(np.floor(values + 0.5), *scale)


def _mean_of(statistics: Sequence[Statistic], what: str) -> Statistic:
    defined = [s for s in statistics if s.value is not None]
    if not defined:
        reasons = {s.undefined_reason for s in statistics}
        return _undefined(f"{what} undefined for every clinician: {'; '.join(sorted(filter(None, reasons)))}")
    return Statistic(
        value=float(np.mean([s.value for s in defined])),
        n_units=max(s.n_units for s in defined),
        n_raters=len(statistics),
        note=f"mean over {len(defined)} clinician(s) of each against the mean of the others",
    )


def _ceiling(clinicians: np.ndarray, labels: list[float], scale: tuple[float, float]) -> dict[str, Statistic]:
    """The clinician leave-one-out ceiling: each clinician against the mean of the others (see agreement)."""

    def qwk(a: np.ndarray, b: np.ndarray) -> Statistic:
        return cohen_kappa(
            a, np.where(np.isnan(b), np.nan, _round_half_up(b, scale)), weights="quadratic", labels=labels
        )

    def rmse(a: np.ndarray, b: np.ndarray) -> Statistic:
        both = ~np.isnan(a) & ~np.isnan(b)
        if not both.any():
            return _undefined("no unit was rated by both", n_raters=2)
        return _statistic(math.sqrt(((a[both] - b[both]) ** 2).mean()), n_units=int(both.sum()))

    return {
        "mae": _mean_of(leave_one_rater_out(clinicians, mean_absolute_error), "MAE"),
        "rmse": _mean_of(leave_one_rater_out(clinicians, rmse), "RMSE"),
        "spearman": _mean_of(leave_one_rater_out(clinicians, spearman), "Spearman's ρ"),
        "qwk": _mean_of(leave_one_rater_out(clinicians, qwk), "quadratic-weighted κ"),
        "alpha": krippendorff_alpha(clinicians, level="ordinal", value_domain=labels),
    }


@dataclasses.dataclass(frozen=True)
class MethodResult:
    """Held-out figures of one method, from the pooled out-of-fold predictions (``fold_*`` per fold)."""

    method: str
    mae: Statistic
    rmse: Statistic
    spearman: Statistic
    qwk: Statistic
    alpha: Statistic
    fold_mae: tuple[float, ...]
    fold_rmse: tuple[float, ...]
    delta_mae: Statistic  # method − equal, with a case-clustered 95 % normal interval
    beats_equal: bool

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "mae": self.mae.as_dict(),
            "rmse": self.rmse.as_dict(),
            "spearman": self.spearman.as_dict(),
            "qwk": self.qwk.as_dict(),
            "alpha": self.alpha.as_dict(),
            "fold_mae": list(self.fold_mae),
            "fold_rmse": list(self.fold_rmse),
            "delta_mae": self.delta_mae.as_dict(),
            "beats_equal": self.beats_equal,
        }


@dataclasses.dataclass(frozen=True)
class CalibrationReport:
    """Cross-validation of every method on one dimension, the chosen method and its fit on all the data."""

    dimension: str
    chosen: str
    beats_equal: bool
    summary: str
    calibration: Calibration
    methods: dict[str, MethodResult]
    ceiling: dict[str, Statistic]
    fits: dict[str, Calibration]
    n_folds: int
    seed: int
    margin: float
    n_conversations: int
    n_cases: int
    n_excluded: int
    fold_of_case: dict[str, int]

    def as_dict(self) -> dict:
        return {
            "dimension": self.dimension,
            "chosen": self.chosen,
            "beats_equal": self.beats_equal,
            "summary": self.summary,
            "calibration": self.calibration.as_dict(),
            "methods": {name: result.as_dict() for name, result in self.methods.items()},
            "ceiling": {name: statistic.as_dict() for name, statistic in self.ceiling.items()},
            "fits": {name: calibration.as_dict() for name, calibration in self.fits.items()},
            "n_folds": self.n_folds,
            "seed": self.seed,
            "margin": self.margin,
            "n_conversations": self.n_conversations,
            "n_cases": self.n_cases,
            "n_excluded": self.n_excluded,
            "fold_of_case": dict(self.fold_of_case),
        }


def _paired_delta(errors: np.ndarray, baseline: np.ndarray, cases: np.ndarray) -> Statistic:
    """Mean of (error − baseline error) with a case-clustered standard error (ratio estimator, linearised).

    SE = sqrt(G/(G−1) Σ_g (D_g − d̄ n_g)²) / N, with D_g the summed differences of case g and n_g its size
    (the cluster-robust variance of Cameron & Miller 2015, J. Human Resources 50(2), for a mean).
    """
    difference = errors - baseline
    n_groups = int(cases.max()) + 1
    totals = np.bincount(cases, weights=difference, minlength=n_groups)
    sizes = np.bincount(cases, minlength=n_groups).astype(float)
    keep = sizes > 0
    totals, sizes = totals[keep], sizes[keep]
    groups = totals.size
    mean = difference.mean()
    se = math.sqrt(groups / (groups - 1) * ((totals - mean * sizes) ** 2).sum()) / sizes.sum()
    ci = (float(mean - _Z95 * se), float(mean + _Z95 * se))
    return _statistic(
        mean,
        n_units=difference.size,
        ci=ci,
        ci_method="case-clustered normal",
        note=f"method − equal, per conversation; standard error {se:.4f} over {groups} cases",
    )


def _cross_validation_options(*, scale, methods, margin, clinician_ratings, n: int):
    """The checked scale, its integer labels, the methods to compare (``equal`` first) and the clinician ratings."""
    bounds = _as_scale(scale)
    if not all(float(v).is_integer() for v in bounds):
        raise ValueError(f"scale must have integer end points for κ and α; got {scale!r}")
    labels = list(np.arange(bounds[0], bounds[1] + 1))
    chosen_methods = list(dict.fromkeys(["equal", *methods]))
    for method in chosen_methods:
        _check_method(method)
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a non-negative number; got {margin!r}")
    clinicians = None
    if clinician_ratings is not None:
        try:
            clinicians = np.asarray(clinician_ratings, dtype=float)
        except (TypeError, ValueError) as error:
            raise ValueError(f"clinician_ratings must be numeric (NaN for missing): {error}") from None
        if clinicians.ndim != 2 or clinicians.shape[0] != n:
            raise ValueError(
                f"clinician_ratings must be conversations × clinicians with {n} rows; got shape {clinicians.shape}"
            )
    return bounds, labels, chosen_methods, clinicians


def _held_out(x: np.ndarray, y: np.ndarray, folds: np.ndarray, *, n_folds: int, fit):
    """Every method's held-out prediction of each conversation, and its MAE and RMSE on each fold."""
    predictions: dict[str, np.ndarray] = {}
    fold_mae: dict[str, list[float]] = {}
    fold_rmse: dict[str, list[float]] = {}
    for fold in range(n_folds):
        test = folds == fold
        train = ~test
        if _usable(x[train], y[train]).sum() < 2:
            raise ValueError(f"fold {fold} leaves fewer than two training conversations")
        for method, model in fit(x[train], y[train]).items():
            predicted = model.predict(x[test])
            predictions.setdefault(method, np.full(x.shape[0], np.nan))[test] = predicted
            error = predicted - y[test]
            fold_mae.setdefault(method, []).append(float(np.abs(error).mean()))
            fold_rmse.setdefault(method, []).append(float(math.sqrt((error**2).mean())))
    return predictions, fold_mae, fold_rmse


def _method_result(
    method: str, *, predicted, y, consensus, baseline_errors, cases, clinicians, labels, bounds, margin, folds
) -> MethodResult:
    """One method's held-out figures, and whether it beats ``equal`` by ``margin`` with its interval below 0."""
    delta = _paired_delta(np.abs(predicted - y), baseline_errors, cases)
    improvement = -(delta.value or 0.0)
    beats = method != "equal" and delta.value is not None and improvement >= margin and delta.ci is not None
    beats = beats and delta.ci[1] < 0
    rounded = _round_half_up(predicted, bounds)
    if clinicians is not None:
        alpha = krippendorff_alpha(np.column_stack([clinicians, rounded]), level="ordinal", value_domain=labels)
    else:
        alpha = _undefined("no clinician ratings were given")
    return MethodResult(
        method=method,
        mae=mean_absolute_error(predicted, y),
        rmse=_statistic(math.sqrt(((predicted - y) ** 2).mean()), n_units=y.size),
        spearman=spearman(predicted, y),
        qwk=cohen_kappa(rounded, consensus, weights="quadratic", labels=labels),
        alpha=alpha,
        fold_mae=folds[0],
        fold_rmse=folds[1],
        delta_mae=delta,
        beats_equal=bool(beats),
    )


def cross_validate(
    scores: object,
    target: object,
    groups: object,
    *,
    judges: Sequence[str] | None = None,
    clinician_ratings: object | None = None,
    methods: Sequence[str] = METHODS,
    n_folds: int = 5,
    seed: int = 0,
    margin: float = 0.02,
    scale: Sequence[float] = DEFAULT_SCALE,
    dimension: str = "",
) -> CalibrationReport:
    """Grouped k-fold cross-validation by case of every calibration method on one dimension.

    Parameters
    ----------
    scores : conversations × judge-prompts, NaN where missing.
    target : clinician consensus per conversation (NaN = none; left out and counted in ``n_excluded``).
    groups : case of each conversation; no case is ever split between training and test.
    judges : a name per column.
    clinician_ratings : optional conversations × clinicians (integers on the scale, NaN missing) for Krippendorff's
        α with the jury as one more rater and for the clinician leave-one-out ceiling.
    methods : which methods to compare; ``equal`` is always included (it is the baseline).
    n_folds, seed : fold assignment (:func:`grouped_folds`); the same inputs and seed give the same report.
    margin : the least MAE improvement over ``equal`` (scale points) for a method to be chosen; it must also
        exceed 1.96 case-clustered standard errors of the paired difference.
    scale : the clinicians' scale, integer end points (κ and α use the integers between them).
    dimension : the rubric dimension's name, for the report.

    Returns
    -------
    CalibrationReport with the held-out figures of every method, the ceiling, the chosen method and its fit on
    all the data (``calibration``), every method fitted on all the data (``fits``) and the fold of every case.

    It is long because it assembles the CalibrationReport's fifteen fields from the held-out figures; the computing
    is in _held_out and _method_result.
    """
    array = _as_scores(scores)
    n = array.shape[0]
    y_all = _as_target(target, n)
    case_labels = np.asarray(groups)
    case_index_all = _as_groups(case_labels, n)
    names = _judge_names(judges, array.shape[1])
    bounds, labels, chosen_methods, clinicians = _cross_validation_options(
        scale=scale, methods=methods, margin=margin, clinician_ratings=clinician_ratings, n=n
    )
    rows = _usable(array, y_all)
    x, y, cases = array[rows], y_all[rows], case_index_all[rows]
    _, cases = np.unique(cases, return_inverse=True)
    folds = grouped_folds(cases, n_folds=n_folds, seed=seed)

    def fit_on(train_x, train_y):
        return _fit_all(train_x, train_y, names, bounds, chosen_methods)

    predictions, fold_mae, fold_rmse = _held_out(x, y, folds, n_folds=n_folds, fit=fit_on)
    consensus = _round_half_up(y, bounds)
    baseline_errors = np.abs(predictions["equal"] - y)
    results = {
        method: _method_result(
            method,
            predicted=predictions[method],
            y=y,
            consensus=consensus,
            baseline_errors=baseline_errors,
            cases=cases,
            clinicians=clinicians[rows] if clinicians is not None else None,
            labels=labels,
            bounds=bounds,
            margin=margin,
            folds=(tuple(fold_mae[method]), tuple(fold_rmse[method])),
        )
        for method in chosen_methods
    }

    winners = [method for method in chosen_methods if results[method].beats_equal]
    chosen = (
        min(winners, key=lambda method: (results[method].mae.value, chosen_methods.index(method)))
        if winners
        else "equal"
    )
    summary = _summary(dimension, chosen, results, margin, n_folds, y.size, int(cases.max()) + 1)
    fits = _fit_all(x, y, names, bounds, chosen_methods)
    ceiling = _ceiling(clinicians, labels, bounds) if clinicians is not None else {}
    unique_labels = np.unique(case_labels)
    fold_of_case = {str(unique_labels[g]): int(f) for g, f in zip(case_index_all[rows], folds, strict=True)}
    return CalibrationReport(
        dimension=dimension,
        chosen=chosen,
        beats_equal=chosen != "equal",
        summary=summary,
        calibration=fits[chosen],
        methods=results,
        ceiling=ceiling,
        fits=fits,
        n_folds=n_folds,
        seed=seed,
        margin=float(margin),
        n_conversations=int(y.size),
        n_cases=int(cases.max()) + 1,
        n_excluded=int(n - y.size),
        fold_of_case=dict(sorted(fold_of_case.items())),
    )


def _fit_all(
    x: np.ndarray, y: np.ndarray, names: tuple[str, ...], bounds: tuple[float, float], methods: list[str]
) -> dict[str, Calibration]:
    fitted: dict[str, Calibration] = {}
    weighted = None
    if "weighted" in methods or "isotonic" in methods:
        weighted = _fit_weighted(x, y, names, bounds)
    for method in methods:
        if method == "weighted":
            fitted[method] = weighted
        elif method == "isotonic":
            fitted[method] = _fit_isotonic(x, y, names, bounds, base=weighted)
        else:
            fitted[method] = _FITTERS[method](x, y, names, bounds)
    return fitted


def _summary(
    dimension: str,
    chosen: str,
    results: dict[str, MethodResult],
    margin: float,
    n_folds: int,
    n: int,
    n_cases: int,
) -> str:
    where = f" for {dimension}" if dimension else ""
    label = METHOD_LABELS.get
    equal = results["equal"].mae.value
    design = f"held-out MAE, grouped {n_folds}-fold cross-validation by case, {n} conversations in {n_cases} cases"
    if chosen != "equal":
        result = results[chosen]
        low, high = result.delta_mae.ci
        return (
            f"Calibration beats the equal-weight jury{where}: the {label(chosen)} has {design} of "
            f"{result.mae.value:.3f} against {equal:.3f} (Δ {result.delta_mae.value:+.3f}, 95 % CI {low:+.3f} to "
            f"{high:+.3f}); the {label(chosen)} is used."
        )
    others = [m for m in results if m != "equal"]
    if not others:
        return f"Only the equal-weight jury was evaluated{where} ({design} {equal:.3f}); it is used."
    best = min(others, key=lambda m: results[m].mae.value)
    result = results[best]
    low, high = result.delta_mae.ci
    return (
        f"Calibration does not beat the equal-weight jury{where}: the best alternative, the {label(best)}, has "
        f"{design} of {result.mae.value:.3f} against {equal:.3f} for the equal-weight jury "
        f"(Δ {result.delta_mae.value:+.3f}, 95 % CI {low:+.3f} to {high:+.3f}), not better by at least {margin:g} "
        f"and beyond its uncertainty; the equal-weight jury is used."
    )
