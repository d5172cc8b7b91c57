"""Planning clinician time: how an estimate's interval narrows with more clinician scores under a sampling design.
Pure NumPy, no Django.

The prediction-powered mean of a row (a model) is θ̂ = mean of the calibrated jury over its N conversations plus
the 1/π-weighted mean of the residuals r = clinician − jury on its n clinician-scored ones (Angelopoulos et al.
2023; Zrnic & Candès 2024 for the weights; :mod:`jury.statistics.inference`). To first order its variance is

    V = A + R,   A = Var(f) / N   (the jury term: fixed, it does not shrink with clinician scores),
                 R = Σ_L h² (r − r̄)² / (Σ_L h)²   (the rectifier: Hájek's linearised variance, h = 1/π),

(Särndal, Swensson & Wretman 1992, *Model Assisted Survey Sampling*, §5.7 for the ratio estimator's variance).
The rectifier shrinks as 1/n while the residuals and the design's weights keep their pattern, so with m_k more
scores in the row, V(m) = A + R · n / (n + m_k), and the interval's width scales by √(V(m) / V) from the width
the bootstrap gives now (the projection borrows only the *ratio* from the linearisation), times the change of
Hesterberg's expansion √(G/(G−1)) · t_{G−1} / z (the intervals are expanded percentile intervals over the G cases
holding the row's clinician scores, :func:`jury.statistics.inference_bootstrap.expanded_tail`; G grows with the
scores in proportion to G / n now). m more scores for the
campaign fall on the rows in proportion to the design's π of their unscored conversations (``share``). A target
below the jury term A is unreachable by clinician scores alone. Bad input raises :class:`ValueError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

__all__ = ["Parts", "needed", "project", "variance_parts"]


@dataclasses.dataclass(frozen=True)
class Parts:
    """Per row: the jury term A, the rectifier term R and the clinician-scored count n (see the module)."""

    jury: np.ndarray
    rectifier: np.ndarray
    n_scored: np.ndarray
    clusters: np.ndarray  # cases holding the row's clinician-scored conversations


def _expansion(clusters: np.ndarray, confidence: float) -> np.ndarray:
    """√(G/(G−1)) · t_{G−1} / z: how much wider than a normal interval the expanded percentile interval is."""
    g = np.asarray(clusters, dtype=float)
    z = scipy_stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        wide = np.sqrt(g / (g - 1)) * scipy_stats.t.ppf(0.5 + confidence / 2, np.maximum(g - 1, 1)) / z
    return np.where(g >= 2, wide, np.nan)


def variance_parts(
    *, calibrated: object, clinician: object, weight: object, row: object, n_rows: int, case: object
) -> Parts:
    """A, R, n and G of every row from one value per conversation: the calibrated jury score ``calibrated``
    (NaN = no jury score), the clinician score (NaN = not scored), the weight 1/π of each clinician-scored one,
    the ``row`` index of each (−1: in no row) and its ``case``."""
    f, y, h = (np.asarray(v, dtype=float) for v in (calibrated, clinician, weight))
    key, cases = np.asarray(row), np.asarray(case, dtype=object)
    if not (f.ndim == 1 and f.shape == y.shape == h.shape == key.shape == cases.shape) or key.dtype.kind not in "iu":
        raise ValueError("calibrated, clinician, weight, row and case must be vectors of one value per conversation")
    if not isinstance(n_rows, int) or n_rows < 1 or (key >= n_rows).any():
        raise ValueError(f"row must index one of the n_rows ({n_rows!r}) rows, or be −1")
    jury = (key >= 0) & ~np.isnan(f)
    scored = jury & ~np.isnan(y)
    if (np.isnan(h[scored]) | (h[scored] < 1)).any():
        raise ValueError("weight must be 1/π ≥ 1 for every clinician-scored conversation")
    a, r, n = np.full(n_rows, np.nan), np.full(n_rows, np.nan), np.zeros(n_rows, dtype=int)
    g = np.zeros(n_rows, dtype=int)
    for k in range(n_rows):
        inside, labelled = jury & (key == k), scored & (key == k)
        n[k], g[k] = labelled.sum(), len(set(cases[labelled]))
        if inside.sum() >= 2:
            a[k] = f[inside].var(ddof=1) / inside.sum()
        if n[k] >= 2:
            w, res = h[labelled], y[labelled] - f[labelled]
            centre = (w * res).sum() / w.sum()
            r[k] = (w**2 * (res - centre) ** 2).sum() / w.sum() ** 2 * n[k] / (n[k] - 1)
    return Parts(jury=a, rectifier=r, n_scored=n, clusters=g)


def _check(parts: Parts, width: object, share: object) -> tuple[np.ndarray, np.ndarray]:
    w, s = np.asarray(width, dtype=float), np.asarray(share, dtype=float)
    if not (w.shape == s.shape == parts.jury.shape) or (s[~np.isnan(s)] < 0).any():
        raise ValueError("width and share must give one value per row, share non-negative")
    return w, s


def project(
    parts: Parts,
    *,
    width: object,
    share: object,
    extra: Sequence[int],
    room: object | None = None,
    confidence: float = 0.95,
) -> np.ndarray:
    """Rows × ``extra``: the width each row is projected to have after each number of further clinician scores,
    of which the row receives ``share`` (its share of the design's π over the unscored conversations), at most
    ``room`` (its conversations not yet scored; no limit when None). NaN where the row has no width now or too
    few scores to know its rectifier."""
    w, s = _check(parts, width, share)
    cap = np.full(w.shape, np.inf) if room is None else np.asarray(room, dtype=float)
    if cap.shape != w.shape or (cap < 0).any():
        raise ValueError("room must give one non-negative count per row")
    more = np.asarray(list(extra), dtype=float)
    if more.ndim != 1 or (more < 0).any():
        raise ValueError("extra must be non-negative counts")
    a, r, n = parts.jury[:, None], parts.rectifier[:, None], parts.n_scored[:, None].astype(float)
    g = parts.clusters[:, None].astype(float)
    added = np.minimum(s[:, None] * more[None, :], cap[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (a + r * n / (n + added)) / (a + r)
        wider = _expansion(g + added * g / n, confidence) / _expansion(g, confidence)
    return w[:, None] * np.sqrt(ratio) * wider


def needed(
    parts: Parts,
    *,
    width: object,
    share: object,
    target: float,
    room: object | None = None,
    confidence: float = 0.95,
) -> np.ndarray:
    """Per row, how many more clinician scores (for the whole campaign, under the design) bring the row's full
    interval width to ``target`` (e.g. 0.2 for ±0.10): 0 where it is already there, ∞ where the target is below
    what the jury term allows (clinician scores alone cannot get there), beyond what its unscored conversations
    (``room``) can give, or the row gets no share, NaN where unknown. The least m with :func:`project` ≤ target,
    by bisection on whole scores."""
    w, s = _check(parts, width, share)
    cap = np.full(w.shape, np.inf) if room is None else np.asarray(room, dtype=float)
    if not np.isfinite(target) or target <= 0:
        raise ValueError(f"target must be a positive width; got {target!r}")
    a, r = parts.jury, parts.rectifier
    limit = w * np.sqrt(a / (a + r))  # the width with infinitely many scores (expansion → 1)
    out = np.full(w.shape, np.nan)
    for k in range(w.size):
        if np.isnan(w[k]) or np.isnan(r[k]) or np.isnan(a[k]):
            continue
        if w[k] <= target:
            out[k] = 0.0
            continue
        if limit[k] >= target or s[k] <= 0:
            out[k] = np.inf
            continue
        one = Parts(*(np.asarray(getattr(parts, f.name))[k : k + 1] for f in dataclasses.fields(Parts)))

        def at(m: float, row=one, k=k) -> float:
            widths = project(row, width=w[k : k + 1], share=s[k : k + 1], extra=[m], room=cap[k : k + 1],
                             confidence=confidence)  # fmt: skip
            return float(widths[0, 0])

        high = 1.0
        while at(high) > target and high < 1e9 and s[k] * high / 2 < cap[k]:
            high *= 2
        if at(high) > target:
            out[k] = np.inf
            continue
        low = 0.0
        while high - low > 1:
            mid = np.floor((low + high) / 2)
            low, high = (mid, high) if at(mid) > target else (low, mid)
        out[k] = high
    return out
