"""Simulated benchmark conversations with a known truth, for checking the leaderboard's intervals. Pure NumPy/SciPy.

Per conversation (case c × model m × condition), a latent quality on the 1–5 scale
t = μ_m + δ_condition + u_c + e, with u_c ~ N(0, ``case_sd``) shared by every conversation of the case and
e ~ N(0, ``noise_sd``). Two clinicians score clip(round(t + N(0, ``clinician_sd``)), 1, 5) and their mean is
the clinician score; the **truth** of a model is the expected clinician score over cases and noise, computed
exactly (t + clinician noise is normal, so each rounded, clipped score has a closed-form mean). Four judges
score clip(round(g(t) + bias + N(0, σ_j)), 1, 5) with g(t) = 3 + 0.8 (t − 3) (compressed) and bias the sum of
a global leniency (+0.5), the judge's own offset, and, by scenario:

- ``global``: nothing more — one bias for every model;
- ``per_model``: b_m ~ N(0, ``model_bias_sd``) for each model, the same for every judge;
- ``own_family``: judges 0 and 1 belong to families 0 and 1 and add +``family_preference`` to their family's
  models (families are models two by two).

With ``subgroup_fraction`` > 0 the jury's errors concentrate on a subgroup: that share of the cases (tagged
``hard``) gets an extra judge noise N(0, ``subgroup_error``) per judge (judges disagree there) and a shift
N(0, ``subgroup_shift``) per conversation shared by its judges (they are wrong together),
while ``judge_sd_scale`` scales the judges' noise everywhere else (< 1: a jury that is good on the rest).

Clinicians score a uniform random ``clinician_fraction`` of the conversations (exactly that many, without
replacement), or with ``ipw`` each conversation independently with a recorded probability π_i that is higher
for conversations the jury scored low (a triage rule), and π is passed on.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats as scipy_stats

from jury.statistics.inference import JuryConversations

__all__ = ["BIASES", "Scenario", "Simulated", "expected_clinician_score", "simulate"]

BIASES = ("global", "per_model", "own_family")
CONDITION_EFFECT = {"full": 0.0, "no_image": -0.2, "no_ehr": -0.3}
DIMENSION_OFFSET = (0.0, 0.1, -0.1)
JUDGE_OFFSET = np.array([0.1, -0.1, 0.2, 0.0])
JUDGE_SD = np.array([0.6, 0.8, 1.0, 1.2])


@dataclasses.dataclass(frozen=True)
class Scenario:
    bias: str = "per_model"
    n_cases: int = 150
    clinician_fraction: float = 0.2
    n_models: int = 8
    conditions: tuple[str, ...] = ("full",)
    dimensions: tuple[str, ...] = ("safety",)
    ipw: bool = False
    case_sd: float = 0.6
    noise_sd: float = 0.5
    clinician_sd: float = 0.5
    model_bias_sd: float = 0.3
    family_preference: float = 0.6
    subgroup_fraction: float = 0.0
    subgroup_error: float = 2.5
    subgroup_shift: float = 0.0
    judge_sd_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.bias not in BIASES:
            raise ValueError(f"bias must be one of {', '.join(BIASES)}; got {self.bias!r}")
        if not 0 < self.clinician_fraction <= 1:
            raise ValueError(f"clinician_fraction must be in (0, 1]; got {self.clinician_fraction!r}")
        if self.n_cases < 2 or self.n_models < 2:
            raise ValueError("a scenario needs at least two cases and two models")
        unknown = set(self.conditions) - set(CONDITION_EFFECT)
        if unknown or not 1 <= len(self.dimensions) <= len(DIMENSION_OFFSET):
            raise ValueError(f"conditions from {sorted(CONDITION_EFFECT)}, one to three dimensions")
        if not 0 <= self.subgroup_fraction < 1 or self.subgroup_error < 0 or self.judge_sd_scale <= 0:
            raise ValueError("subgroup_fraction in [0, 1), subgroup_error ≥ 0, judge_sd_scale > 0")

    @property
    def label(self) -> str:
        design = "IPW" if self.ipw else "uniform"
        uneven = f" hard {self.subgroup_fraction:.0%}" if self.subgroup_fraction else ""
        return f"{self.bias}{uneven} {self.n_cases} cases {self.clinician_fraction:.0%} {design}"


@dataclasses.dataclass(frozen=True)
class Simulated:
    """``data`` as the product sees it; ``oracle`` the same with every conversation clinician-scored;
    ``truth[(condition, dimension)][model]`` the true mean, ``family_truth`` the same per family; ``latent`` the
    hidden quality t (conversations × dimensions), ``clinicians`` every conversation's clinician score, ``hard``
    the conversations of the subgroup where the jury errs."""

    data: JuryConversations
    oracle: JuryConversations
    truth: dict[tuple[str, str], dict[str, float]]
    family_truth: dict[tuple[str, str], dict[str, float]]
    latent: np.ndarray | None = None
    clinicians: np.ndarray | None = None
    hard: np.ndarray | None = None


def expected_clinician_score(mean: np.ndarray, sd: float) -> np.ndarray:
    """E[clip(round(Z), 1, 5)] for Z ~ N(mean, sd²): Σ_k k · P(round(Z) = k)."""
    mean = np.asarray(mean, dtype=float)
    cuts = np.array([1.5, 2.5, 3.5, 4.5])
    cdf = scipy_stats.norm.cdf((cuts[:, None] - mean[None, :]) / sd)
    return 5.0 - cdf.sum(0)


def _means(scenario: Scenario) -> np.ndarray:
    return np.linspace(2.6, 3.6, scenario.n_models)


def _judges(scenario: Scenario, t: np.ndarray, model: np.ndarray, hard: np.ndarray, rng: np.random.Generator):
    bias = 0.5 + JUDGE_OFFSET[None, :] + np.zeros((t.size, 1))
    if scenario.bias == "per_model":
        bias = bias + rng.normal(0, scenario.model_bias_sd, scenario.n_models)[model][:, None]
    elif scenario.bias == "own_family":
        family = model // 2
        for judge in (0, 1):
            bias[:, judge] += scenario.family_preference * (family == judge)
    sd = JUDGE_SD * scenario.judge_sd_scale + np.zeros((t.size, 1))
    if hard.any():  # draws only here, so the even scenarios keep their random streams
        sd = np.where(hard[:, None], np.hypot(sd, scenario.subgroup_error), sd)
        bias = bias + np.where(hard, rng.normal(0, scenario.subgroup_shift, t.size), 0.0)[:, None]
    raw = 3 + 0.8 * (t[:, None] - 3) + bias + rng.normal(0, 1, (t.size, JUDGE_SD.size)) * sd
    return np.clip(np.round(raw), 1, 5)


def _selection(scenario: Scenario, jury: np.ndarray, rng: np.random.Generator):
    """Which conversations clinicians score, and π (None for the uniform design)."""
    n = jury.shape[0]
    if not scenario.ipw:
        chosen = np.zeros(n, dtype=bool)
        chosen[rng.choice(n, size=max(2, round(scenario.clinician_fraction * n)), replace=False)] = True
        return chosen, None
    low = jury.mean(axis=(1, 2)) <= np.median(jury.mean(axis=(1, 2)))
    pi = np.clip(scenario.clinician_fraction * np.where(low, 1.5, 0.5), 0.01, 1.0)
    return rng.random(n) < pi, pi


def simulate(scenario: Scenario, *, seed: int) -> Simulated:
    """One replication of ``scenario`` (everything drawn from ``seed``)."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(np.arange(scenario.n_cases), np.arange(scenario.n_models), np.arange(len(scenario.conditions)))
    case, model, condition = (g.transpose(1, 0, 2).ravel() for g in grid)
    n, d = case.size, len(scenario.dimensions)
    mu = _means(scenario)
    shift = np.array([CONDITION_EFFECT[c] for c in scenario.conditions])
    u = rng.normal(0, scenario.case_sd, (scenario.n_cases, d))
    t = mu[model][:, None] + shift[condition][:, None] + np.array(DIMENSION_OFFSET[:d]) + u[case]
    t = t + rng.normal(0, scenario.noise_sd, (n, d))
    clinicians = np.clip(np.round(t[:, :, None] + rng.normal(0, scenario.clinician_sd, (n, d, 2))), 1, 5).mean(2)
    hard_cases = np.zeros(scenario.n_cases, dtype=bool)
    if scenario.subgroup_fraction:
        hard_cases = rng.permutation(scenario.n_cases) < round(scenario.subgroup_fraction * scenario.n_cases)
    hard = hard_cases[case]
    jury = np.stack([_judges(scenario, t[:, k], model, hard, rng) for k in range(d)], axis=2)
    chosen, pi = _selection(scenario, jury, rng)
    labels = {
        "case": [f"case-{c:04d}" for c in case],
        "model": [f"model-{m}" for m in model],
        "family": [f"family-{m // 2}" for m in model],
        "condition": [scenario.conditions[c] for c in condition],
        "judge_scores": jury,
        "dimensions": scenario.dimensions,
        "tags": [("hard",) if h else () for h in hard],
    }
    data = JuryConversations.build(
        **labels, clinician=np.where(chosen[:, None], clinicians, np.nan), selection_probability=pi
    )
    oracle = JuryConversations.build(**labels, clinician=clinicians)
    sd = float(np.sqrt(scenario.case_sd**2 + scenario.noise_sd**2 + scenario.clinician_sd**2))
    truth, family_truth = {}, {}
    for c, name in enumerate(scenario.conditions):
        for k, dimension in enumerate(scenario.dimensions):
            means = expected_clinician_score(mu + shift[c] + DIMENSION_OFFSET[k], sd)
            truth[(name, dimension)] = {f"model-{m}": float(v) for m, v in enumerate(means)}
            family = np.arange(scenario.n_models) // 2
            pairs = np.bincount(family, weights=means) / np.bincount(family)
            family_truth[(name, dimension)] = {f"family-{f}": float(v) for f, v in enumerate(pairs)}
    return Simulated(
        data=data, oracle=oracle, truth=truth, family_truth=family_truth, latent=t, clinicians=clinicians, hard=hard
    )
