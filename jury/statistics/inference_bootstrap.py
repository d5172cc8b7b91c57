"""The engine behind :mod:`jury.statistics.inference`: one case bootstrap that refits the calibration in every
resample, from per-case sufficient statistics. Pure NumPy/SciPy, no Django.

The calibrated jury score of conversation i is f_i = φ_i · β: φ_i is a feature vector built from the judge
scores (:func:`features`) and β is fitted by least squares on the clinician-scored conversations of all models
(``affine``, ``linear``), by pool-adjacent-violators on the levels of the jury mean (``isotonic``), or fixed
(``equal``, β = 1). Every quantity the estimators need is a polynomial in β of sums over conversations, e.g.
Σ f_i = (Σ φ_i)·β and Σ f_i² = β'(Σ φ_i φ_i')β; those sums are taken per case × key (a key is a model, a
family, or a model × subgroup side), so a resample with case counts W_b gives every sum as one matrix product
``W_b @ S`` — the vectorised cluster bootstrap of :mod:`jury.statistics.leaderboard` — and β_b is refitted from
the resampled normal equations (Σ_b h φφ') β_b = Σ_b h φ y (batched ``numpy.linalg.solve``; h = 1/π, so
under a design that over-samples where the jury errs the fit still estimates the population's least-squares
calibration, not the over-sampled part's) or, for ``isotonic``, by
one small PAV per resample on ≤ a few dozen levels. Row 0 of the weights is all ones: the point estimate is the
same function of the data as every replicate.

Estimators per key (L = its clinician-scored conversations, A = all its jury-scored ones, N = |A|, n = |L|,
h_i = 1/π_i the inverse selection probability, 1 when π is not given; H = Σ_L h, = n without π):

- prediction-powered (PPI++, Angelopoulos, Duchi & Zrnic 2023, arXiv:2311.01453, eq. for the mean; the
  inverse-probability-weighted rectifier of Zrnic & Candès 2024, *Active Statistical Inference*, ICML, in its
  Hájek-normalised form, as ``ppi_py`` weights it): θ = λ Σ_A f / N + Σ_L h (y − λ f) / H. The
  Horvitz–Thompson form (÷ N instead of H) is exactly unbiased but its variance is not centred: on the
  simulated triage design it was 1.85 × wider than the clinicians-only mean (bench/inference.py); the
  normalised form is consistent (bias O(1/n)), and at λ = 0 it is the clinicians-only mean, so power tuning
  keeps it no worse;
- clinicians only: Σ_L h y / Σ_L h (Hájek 1971: the inverse-probability-weighted mean; the plain mean
  without π);
- jury only (today): Σ_A f / N with β held at the full-data fit;
- transport residual: Σ_L h (y − f) / Σ_L h.

λ is the PPI++ power-tuning rule exactly as the reference implementation ``ppi_py.ppi_mean_pointestimate``
computes it (with w_i = h_i n / H on L and 1 on A, and the λ = 1 estimate θ₁ as centre):
λ = Cov_L(w(y − θ₁), w(f − θ₁)) / ((1 + n/N) Var[w(f − θ₁) on L ∪ (f − θ₁) on A]), clipped to [0, 1]; it is
recomputed in every resample.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize, sparse
from scipy import stats as scipy_stats

from jury.statistics.agreement import Statistic

__all__ = [
    "Engine",
    "Features",
    "Pooled",
    "ess",
    "expanded_tail",
    "features",
    "figure",
    "ipw_weights",
    "mean_present",
    "pooled",
    "ppi_mean",
    "run_engine",
]

_RIDGE = 1e-9


@dataclasses.dataclass(frozen=True)
class Features:
    """φ per conversation (rows; NaN rows = no jury score), and how β is obtained."""

    phi: np.ndarray  # conversations × p (for "isotonic": one-hot of the level)
    method: str
    levels: np.ndarray | None = None  # isotonic: the sorted distinct jury means

    @property
    def p(self) -> int:
        return self.phi.shape[1]

    @property
    def diagonal(self) -> bool:
        """One-hot features: φφ' is diagonal, so only its diagonal (= φ) is summed."""
        return self.method == "isotonic"


def mean_present(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_present w_j x_j / Σ_present w_j (the renormalised jury of calibration.py); NaN when none present.
    ``weights`` one per column, or columns × groups (e.g. a column's judge, one-hot): then one mean per group."""
    present = ~np.isnan(x)
    filled = np.where(present, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (filled @ weights) / (present @ weights)


def features(judge_scores: np.ndarray, *, method: str, judge_weights: np.ndarray) -> Features:
    """φ for one dimension from conversations × judges scores (NaN missing); rows without any judge are NaN."""
    s = mean_present(judge_scores, judge_weights)
    if method == "equal":
        return Features(s[:, None], method)
    if method == "affine":
        return Features(np.column_stack([np.ones_like(s), s]), method)
    if method == "linear":
        imputed = np.where(np.isnan(judge_scores), s[:, None], judge_scores)
        return Features(np.column_stack([np.ones_like(s), imputed]), method)
    ok = ~np.isnan(s)
    levels, index = np.unique(s[ok], return_inverse=True)
    phi = np.full((s.size, levels.size), np.nan)
    phi[ok] = 0.0
    phi[np.flatnonzero(ok), index] = 1.0
    return Features(phi, method, levels)


def _outer(phi: np.ndarray, diagonal: bool) -> np.ndarray:
    if diagonal:
        return phi
    return (phi[:, :, None] * phi[:, None, :]).reshape(phi.shape[0], -1)


def _cell_sums(case: np.ndarray, key: np.ndarray, n_cases: int, n_keys: int, columns: np.ndarray) -> np.ndarray:
    """cases × (keys · columns): per case and key, the column sums of the rows with that case and key."""
    cell = case * n_keys + key
    indicator = sparse.csr_matrix(
        (np.ones(cell.size), (cell, np.arange(cell.size))), shape=(n_cases * n_keys, cell.size)
    )
    return np.asarray(indicator @ columns).reshape(n_cases, n_keys * columns.shape[1])


def _quad(q: np.ndarray, beta: np.ndarray, diagonal: bool) -> np.ndarray:
    """β' Q β per resample and key; q is B × K × (p² or p), beta B × p."""
    if diagonal:
        return np.einsum("bku,bu->bk", q, beta**2)
    p = beta.shape[1]
    return np.einsum("bkij,bi,bj->bk", q.reshape(*q.shape[:2], p, p), beta, beta)


def _refit(feat: Features, gram: np.ndarray, moment: np.ndarray) -> np.ndarray:
    """β per resample from the resampled normal equations (gram B × q, moment B × p)."""
    b, p = moment.shape
    if feat.method == "equal":
        return np.ones((b, 1))
    if feat.method == "isotonic":
        beta = np.empty((b, p))
        for r in range(b):
            ok = gram[r] > 0
            if not ok.any():
                beta[r] = np.nan
                continue
            fitted = optimize.isotonic_regression(moment[r, ok] / gram[r, ok], weights=gram[r, ok]).x
            beta[r] = np.interp(feat.levels, feat.levels[ok], fitted)
        return beta
    g = gram.reshape(b, p, p)
    ridge = _RIDGE * np.maximum(np.trace(g, axis1=1, axis2=2), 1.0)[:, None, None] * np.eye(p)
    return np.linalg.solve(g + ridge, moment[:, :, None])[:, :, 0]


@dataclasses.dataclass(frozen=True)
class Engine:
    """Row 0 = the point estimate, rows 1… = resamples; columns = keys. NaN where undefined."""

    ppi: np.ndarray
    clinicians: np.ndarray
    jury: np.ndarray
    lam: np.ndarray
    transport: np.ndarray
    n_labelled: np.ndarray  # row 0 only matters for reporting; per resample for definedness
    n_all: np.ndarray


def _safe(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _power_tuning(s: dict, theta1: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """PPI++ λ from the sums (see the module docstring), clipped to [0, 1]; 0 where undefined."""
    n, big_n = s["n"], s["N"]
    sum_a = rho * (s["hy"] - theta1 * s["h"])
    sum_c = rho * (s["hf"] - theta1 * s["h"])
    sum_ac = rho**2 * (s["h2yf"] - theta1 * s["h2y"] - theta1 * s["h2f"] + theta1**2 * s["h2"])
    covariance = _safe(sum_ac, n) - _safe(sum_a, n) * _safe(sum_c, n)
    sum_c2 = rho**2 * (s["h2f2"] - 2 * theta1 * s["h2f"] + theta1**2 * s["h2"])
    all_c = s["af"] - big_n * theta1
    all_c2 = s["af2"] - 2 * theta1 * s["af"] + big_n * theta1**2
    m = n + big_n
    variance = _safe(sum_c2 + all_c2 - _safe((sum_c + all_c) ** 2, m), m - 1)
    lam = _safe(covariance, (1 + _safe(n, big_n)) * variance)
    return np.clip(np.nan_to_num(lam, nan=0.0), 0.0, 1.0)


def _unpack(sums: np.ndarray, beta: np.ndarray, feat: Features) -> tuple[dict, np.ndarray]:
    """The named sums (B × K) from the resampled columns, with f = φ·β substituted; and the Σ φ block."""
    p, q = feat.p, sums.shape[2] - 6 - 4 * feat.p
    q //= 2
    s = {name: sums[:, :, i] for i, name in enumerate(["N", "n", "h", "h2", "hy", "h2y"])}
    v = sums[:, :, 6 : 6 + 4 * p]
    qa, ql = sums[:, :, 6 + 4 * p : 6 + 4 * p + q], sums[:, :, 6 + 4 * p + q :]
    for i, name in enumerate(["af", "hf", "h2f", "h2yf"]):
        s[name] = np.einsum("bkp,bp->bk", v[:, :, i * p : (i + 1) * p], beta)
    s["af2"], s["h2f2"] = _quad(qa, beta, feat.diagonal), _quad(ql, beta, feat.diagonal)
    return s, v


def run_engine(
    feat: Features,
    *,
    y: np.ndarray,
    h: np.ndarray,
    case: np.ndarray,
    key: np.ndarray,
    n_cases: int,
    n_keys: int,
    weights: np.ndarray,
) -> Engine:
    """Every estimator for every key, on the data (row 0) and on each resample of ``weights`` (B × cases).

    ``y`` is the clinician score (NaN = none), ``h`` the inverse selection probability, ``key`` the estimand of
    each conversation (−1: used for the calibration only). Conversations without a jury score are ignored."""
    jury = ~np.isnan(feat.phi).any(1)
    lab = jury & ~np.isnan(y)
    phi = np.where(jury[:, None], feat.phi, 0.0)
    yy, hh = np.where(lab, y, 0.0), np.where(lab, h, 0.0)
    outer = _outer(phi, feat.diagonal)
    q = outer.shape[1]
    ones = np.vstack([np.ones(n_cases), weights])
    fit = np.hstack([outer[lab], phi[lab] * yy[lab, None]]) * hh[lab, None]  # 1/π-weighted normal equations
    calib = _cell_sums(case[lab], np.zeros(lab.sum(), int), n_cases, 1, fit)
    resampled = ones @ calib
    beta = _refit(feat, resampled[:, :q], resampled[:, q:])
    in_key = jury & (key >= 0)
    lk = lab[in_key].astype(float)
    hk, yk, pk = hh[in_key], yy[in_key], phi[in_key]
    scalars = np.column_stack([np.ones(lk.size), lk, hk, hk**2, hk * yk, hk**2 * yk])
    vectors = np.hstack([pk, hk[:, None] * pk, (hk**2)[:, None] * pk, (hk**2 * yk)[:, None] * pk])
    quads = np.hstack([outer[in_key], (hk**2)[:, None] * outer[in_key]])
    cols = np.hstack([scalars, vectors, quads])
    sums = ones @ _cell_sums(case[in_key], key[in_key], n_cases, n_keys, cols)
    s, v = _unpack(sums.reshape(ones.shape[0], n_keys, cols.shape[1]), beta, feat)
    p = feat.p
    denominator = s["h"]
    rho = _safe(s["n"], denominator)
    mean_f = _safe(s["af"], s["N"])
    theta1 = mean_f + _safe(s["hy"] - s["hf"], denominator)
    lam = _power_tuning(s, theta1, rho)
    ppi = lam * mean_f + _safe(s["hy"] - lam * s["hf"], denominator)
    fixed = np.broadcast_to(beta[:1], beta.shape)
    jury_only = _safe(np.einsum("bkp,bp->bk", v[:, :, :p], fixed), s["N"])
    return Engine(
        ppi=np.where(s["n"] > 0, ppi, np.nan),
        clinicians=_safe(s["hy"], s["h"]),
        jury=jury_only,
        lam=lam,
        transport=_safe(s["hy"] - s["hf"], s["h"]),
        n_labelled=s["n"],
        n_all=s["N"],
    )


def _as_array(values: object, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric (NaN for missing): {error}") from None
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {array.shape}")
    if np.isinf(array).any():
        raise ValueError(f"{name} contains an infinite value; use NaN for a missing score")
    return array


def ipw_weights(selection_probability: object | None, clinician_scored: object) -> np.ndarray:
    """The rectifier's weight of each conversation: 1/π_i where clinician-scored, 0 elsewhere (1 without π)."""
    scored = np.asarray(clinician_scored, dtype=bool)
    if selection_probability is None:
        return scored.astype(float)
    pi = np.asarray(selection_probability, dtype=float)
    if np.isnan(pi[scored]).any() or (pi[scored] <= 0).any() or (pi[scored] > 1).any():
        raise ValueError("selection_probability must be in (0, 1] for every clinician-scored conversation")
    return np.where(scored, 1.0 / np.where(scored, pi, 1.0), 0.0)


def ppi_mean(
    clinician: object, jury: object, *, selection_probability: object | None = None, lam: float | None = None
) -> tuple[float, float]:
    """(θ̂, λ) for one group of conversations: ``jury`` the calibrated jury score of each, ``clinician`` NaN
    where not clinician-scored. λ power-tuned (PPI++, clipped to [0, 1]) unless given."""
    f = _as_array(jury, "jury")
    y = _as_array(clinician, "clinician", f.shape)
    if f.ndim != 1 or np.isnan(f).any():
        raise ValueError("jury must be 1-D with a score for every conversation")
    scored = ~np.isnan(y)
    if scored.sum() < 2:
        raise ValueError("ppi_mean needs at least two clinician-scored conversations")
    if lam is not None and not 0 <= lam <= 1:
        raise ValueError(f"lam must be in [0, 1]; got {lam!r}")
    h = ipw_weights(selection_probability, scored)
    feat = features(f[:, None], method="equal", judge_weights=np.ones(1))
    n = f.size
    engine = run_engine(
        feat, y=y, h=h, case=np.arange(n), key=np.zeros(n, int),
        n_cases=n, n_keys=1, weights=np.ones((0, n)),
    )  # fmt: skip
    tuned = float(engine.lam[0, 0]) if lam is None else float(lam)
    mean_f = f.mean()
    rectifier = (h * np.where(scored, y - tuned * f, 0.0)).sum() / h.sum()
    return float(tuned * mean_f + rectifier), tuned


# --- figures ----------------------------------------------------------------------------------------------


def expanded_tail(clusters: int, confidence: float) -> float:
    """Hesterberg's expanded percentile: the tail α' with z_{α'} = √(G/(G−1)) · t_{(1−confidence)/2, G−1}."""
    tail = (1 - confidence) / 2
    if clusters < 2:
        return tail
    z = np.sqrt(clusters / (clusters - 1)) * scipy_stats.t.ppf(1 - tail, clusters - 1)
    return float(scipy_stats.norm.sf(z))


def figure(
    point: float, replicates: np.ndarray, *, clusters: int, confidence: float, n_units: int, reason: str | None
) -> Statistic:
    """A Statistic from the point and the resamples; ``reason`` set = undefined (never a number)."""
    if reason is None and not np.isfinite(point):
        reason = "not defined on these data"
    if reason is not None:
        return Statistic(value=None, undefined_reason=reason, n_units=n_units)
    valid = replicates[np.isfinite(replicates)]
    expanded = f"; expanded percentile over {clusters} cases" if clusters >= 2 else "; percentile"
    note = f"case bootstrap with refit, {replicates.size} resamples{expanded}"
    if valid.size < replicates.size:
        note += f"; {replicates.size - valid.size} resamples undefined and left out"
    if valid.size < 2:
        return Statistic(value=float(point), n_units=n_units, note=note, n_resamples=int(valid.size))
    tail = expanded_tail(clusters, confidence)
    interval = tuple(float(v) for v in np.quantile(valid, [tail, 1 - tail]))
    return Statistic(
        value=float(point),
        ci=interval,
        ci_method="expanded percentile" if clusters >= 2 else "percentile",
        percentile_ci=interval,
        n_units=n_units,
        note=note,
        n_resamples=int(valid.size),
    )


def ess(variance_y: float, replicates: np.ndarray) -> float | None:
    valid = replicates[np.isfinite(replicates)]
    if valid.size < 2 or not np.isfinite(variance_y) or valid.var(ddof=1) <= 0:
        return None
    return float(variance_y / valid.var(ddof=1))


@dataclasses.dataclass(frozen=True)
class Pooled:
    """One dimension's (or the overall) engine output with the per-key counts needed for the figures."""

    engine: Engine
    n_clinician: np.ndarray
    n_jury: np.ndarray
    clusters: np.ndarray  # cases holding a clinician-scored conversation of the key
    variance_y: np.ndarray  # sample variance of the clinicians' scores of the key


def pooled(
    feats: dict[str, Features],
    *,
    clinician: np.ndarray,
    selection_probability: np.ndarray | None,
    case: np.ndarray,
    key: np.ndarray,
    n_keys: int,
    weights: np.ndarray,
) -> dict[str, Pooled]:
    """The engine per dimension (``feats`` in dimension order, ``clinician`` conversations × dimensions) and,
    with several dimensions, first the overall: the mean of the dimensions' estimates in every resample."""
    out = {}
    n_cases = int(case.max()) + 1
    for d, (dimension, feat) in enumerate(feats.items()):
        jury = ~np.isnan(feat.phi).any(1)
        scored = ~np.isnan(clinician[:, d]) & jury
        h = ipw_weights(selection_probability, scored)
        y = np.where(scored, clinician[:, d], np.nan)
        engine = run_engine(
            feat, y=y, h=h, case=case, key=key,
            n_cases=n_cases, n_keys=n_keys, weights=weights,
        )  # fmt: skip
        out[dimension] = _counts(engine, y, scored, case, key, n_keys, jury)
    if len(out) == 1:
        return out
    parts = list(out.values())
    mean = Engine(
        **{f.name: np.mean([getattr(p.engine, f.name) for p in parts], 0) for f in dataclasses.fields(Engine)}
    )
    y_mean = np.where(np.isnan(clinician).any(1), np.nan, clinician.mean(1))
    variance = _counts(mean, y_mean, ~np.isnan(y_mean), case, key, n_keys, None).variance_y
    lowest = {name: np.min([getattr(p, name) for p in parts], 0) for name in ("n_clinician", "n_jury", "clusters")}
    return {"overall": Pooled(engine=mean, variance_y=variance, **lowest), **out}


def _counts(engine, y, scored, case, key, n_keys, jury) -> Pooled:
    inside = scored & (key >= 0)
    n_clin = np.bincount(key[inside], minlength=n_keys)
    n_jury = np.bincount(key[jury & (key >= 0)], minlength=n_keys) if jury is not None else n_clin
    pairs = np.unique(np.column_stack([key[inside], case[inside]]), axis=0)
    clusters = np.bincount(pairs[:, 0], minlength=n_keys) if pairs.size else np.zeros(n_keys, int)
    s1 = np.bincount(key[inside], weights=y[inside], minlength=n_keys)
    s2 = np.bincount(key[inside], weights=y[inside] ** 2, minlength=n_keys)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (s2 - s1**2 / n_clin) / (n_clin - 1)
    return Pooled(engine, n_clin, n_jury, clusters, variance)
