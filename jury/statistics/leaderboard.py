"""Leaderboard statistics with case-bootstrap intervals: pure NumPy/SciPy, no Django.

Input is :class:`Conversations`: per conversation its case, model under test, the model's family, condition
(``full``, ``no_image``, ``no_ehr``), tags, and a calibrated score per rubric dimension (``NaN`` = none).

Every interval comes from one **case bootstrap** (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
ch. 6 and 13, percentile intervals): cases are drawn with replacement and every conversation of a drawn case
comes with it — the cluster bootstrap for nested data (Davison & Hinkley 1997, *Bootstrap Methods and their
Application*, §3.8; Field & Welsh 2007, JRSS B 69(3):369–390, "Bootstrapping clustered data"), because the
conversations of one case (several models, several conditions) are not independent. It is vectorised: each
resample is a vector of case counts ``W_b`` (multinomial(C, 1/C), drawn once per resample and shared by every
figure of a call), and any mean is a ratio of weighted sums of per-case totals, ``(W @ S) / (W @ N)``, so a
thousand resamples of every model and dimension are a few matrix products. Everything is seeded.

- :func:`leaderboard`: per model and per family, overall (mean of the dimensions, on conversations scored on
  all of them) and per dimension, the mean with a 95 % interval and a rank interval (the 2.5–97.5 % range of
  the rank, 1 = highest mean, across resamples).
- :func:`subgroup_deltas`: Δ = mean on the subgroup − mean on the rest (e.g. malignant vs not), per model and
  averaged over models.
- :func:`ablation_deltas`: paired Δ of each ablation condition against ``full``, paired by case and model
  (per case × model cell, ablated mean − full mean; a model's Δ is the mean over its cells), per model and
  averaged over models.
- :func:`self_preference`: for each judge, d = its score − the mean of the other judges present, and the
  difference of mean d on conversations of its own family's models and on the others'.

Figures are :class:`jury.statistics.agreement.Statistic` (``value`` ``None`` with a reason when undefined, ``ci`` the
percentile interval, ``n_resamples`` the resamples on which the figure was defined). Bad input raises
:class:`ValueError`.

It is long because the leaderboard means, rank intervals, subgroup, ablation and self-preference deltas all use the
one vectorised case bootstrap defined here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats as scipy_stats

from jury.statistics import validation
from jury.statistics.agreement import Statistic

__all__ = [
    "Conversations",
    "Delta",
    "Leaderboard",
    "SelfPreference",
    "Standing",
    "ablation_deltas",
    "case_weights",
    "contrast_label",
    "leaderboard",
    "self_preference",
    "subgroup_deltas",
]

OVERALL = "overall"
CONDITION_LABELS = {"full": "full", "no_image": "No image", "no_ehr": "No EHR"}


def contrast_label(contrast: str) -> str:
    """A contrast, or a bare condition, with its conditions as people read them: "no_image − full" → "No image −
    full", "no_ehr" → "No EHR"; any other part ("malignant − rest") unchanged."""
    return " − ".join(CONDITION_LABELS.get(part, part) for part in contrast.split(" − "))


# --- input ------------------------------------------------------------------------------------------------


def _labels(values: object, name: str, n: int | None = None) -> np.ndarray:
    return validation.labels(values, name=name, n=n)


@dataclasses.dataclass(frozen=True, eq=False)
class Conversations:
    """Per conversation: case, model, family, condition, tags, and scores (conversations × dimensions)."""

    case: np.ndarray
    model: np.ndarray
    family: np.ndarray
    condition: np.ndarray
    scores: np.ndarray
    dimensions: tuple[str, ...]
    tags: tuple[frozenset[str], ...]

    @classmethod
    def build(
        cls,
        *,
        case: Sequence,
        model: Sequence,
        family: Sequence,
        condition: Sequence,
        scores: object,
        dimensions: Sequence[str],
        tags: Sequence[Iterable[str]] | None = None,
    ) -> Conversations:
        """Validate and hold the inputs; ``scores`` is conversations × dimensions (NaN = no score)."""
        try:
            array = np.array(scores, dtype=float)
        except (TypeError, ValueError) as error:
            raise ValueError(f"scores must be numeric (NaN for missing): {error}") from None
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(f"scores must be conversations × dimensions; got shape {array.shape}")
        n = array.shape[0]
        if n == 0:
            raise ValueError("no conversations")
        if np.isinf(array).any():
            raise ValueError("scores contain an infinite value; use NaN for a missing score")
        names = tuple(str(d) for d in dimensions)
        if len(names) != array.shape[1]:
            raise ValueError(f"dimensions must name the {array.shape[1]} score columns; got {len(names)}")
        if len(set(names)) != len(names) or OVERALL in names:
            raise ValueError(f"dimensions must be distinct and not {OVERALL!r}; got {names}")
        models, families = _labels(model, "model", n), _labels(family, "family", n)
        for name in np.unique(models):
            own = np.unique(families[models == name])
            if own.size != 1:
                raise ValueError(f"model {name!r} belongs to more than one family: {sorted(own)}")
        if tags is None:
            tag_sets = tuple(frozenset() for _ in range(n))
        else:
            if len(tags) != n:
                raise ValueError(f"tags must give a set per conversation ({n}); got {len(tags)}")
            tag_sets = tuple(frozenset(str(t) for t in ([item] if isinstance(item, str) else item)) for item in tags)
        array.setflags(write=False)
        return cls(
            case=_labels(case, "case", n),
            model=models,
            family=families,
            condition=_labels(condition, "condition", n),
            scores=array,
            dimensions=names,
            tags=tag_sets,
        )

    def __len__(self) -> int:
        return self.scores.shape[0]

    def with_overall(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """Scores with the overall column first: the mean of the dimensions, NaN unless all are scored."""
        if self.scores.shape[1] == 1:
            return self.scores, self.dimensions
        return np.column_stack([self.scores.mean(1), self.scores]), (OVERALL, *self.dimensions)


# --- the case bootstrap -----------------------------------------------------------------------------------


def _check_bootstrap(n_resamples: int, confidence: float) -> None:
    if not isinstance(n_resamples, int | np.integer) or isinstance(n_resamples, bool) or n_resamples < 2:
        raise ValueError(f"n_resamples must be an integer ≥ 2; got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence!r}")


def case_weights(n_cases: int, *, n_resamples: int, seed: int | None) -> np.ndarray:
    """Resamples × cases: how often each case is drawn in each resample (C draws with replacement per row)."""
    if n_cases < 2:
        raise ValueError(f"the case bootstrap needs at least two cases; got {n_cases}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_cases, size=(n_resamples, n_cases))
    draws += np.arange(n_resamples)[:, None] * n_cases
    return np.bincount(draws.ravel(), minlength=n_resamples * n_cases).reshape(n_resamples, n_cases).astype(float)


def _totals(case: np.ndarray, key: np.ndarray, values: np.ndarray, n_cases: int, n_keys: int):
    """Per case × key: sum of the non-NaN values and their count (both n_cases × n_keys)."""
    ok = ~np.isnan(values)
    flat = case[ok] * n_keys + key[ok]
    sums = np.bincount(flat, weights=values[ok], minlength=n_cases * n_keys).reshape(n_cases, n_keys)
    counts = np.bincount(flat, minlength=n_cases * n_keys).reshape(n_cases, n_keys).astype(float)
    return sums, counts


def _resample(weights: np.ndarray, *blocks: np.ndarray) -> list[np.ndarray]:
    """``weights @ block`` for each (cases × k) block, as one matrix product (the product is memory-bound)."""
    product = weights @ np.hstack(blocks)
    return np.split(product, np.cumsum([block.shape[1] for block in blocks])[:-1], axis=1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _estimate(
    value: float, replicates: np.ndarray, *, confidence: float, n_units: int, n_cases: int, what: str
) -> Statistic:
    if not np.isfinite(value):
        return Statistic(value=None, undefined_reason=f"no conversations for {what}", n_units=n_units)
    valid = replicates[np.isfinite(replicates)]
    notes = [f"{replicates.size} resamples of {n_cases} cases"]
    if valid.size < replicates.size:
        notes.append(f"{replicates.size - valid.size} resamples undefined and left out")
    if valid.size < 2:
        return Statistic(value=float(value), n_units=n_units, note="; ".join(notes), n_resamples=int(valid.size))
    tail = (1 - confidence) / 2
    low, high = np.quantile(valid, [tail, 1 - tail])
    interval = (float(low), float(high))
    return Statistic(
        value=float(value),
        ci=interval,
        ci_method="percentile",
        percentile_ci=interval,
        n_units=n_units,
        note="; ".join(notes),
        n_resamples=int(valid.size),
    )


def _index(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names, index = np.unique(labels.astype(str), return_inverse=True)
    return names, index.reshape(-1)


# --- leaderboard ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Standing:
    """One model's (or family's) mean on one dimension, with its interval and rank interval."""

    name: str
    kind: str  # "model" or "family"
    dimension: str
    mean: Statistic
    rank: float
    rank_interval: tuple[float, float] | None
    n_conversations: int
    n_cases: int

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "dimension": self.dimension,
            "mean": self.mean.as_dict(),
            "rank": self.rank,
            "rank_interval": list(self.rank_interval) if self.rank_interval else None,
            "n_conversations": self.n_conversations,
            "n_cases": self.n_cases,
        }


@dataclasses.dataclass(frozen=True)
class Leaderboard:
    condition: str
    dimensions: tuple[str, ...]
    standings: tuple[Standing, ...]
    n_resamples: int
    confidence: float
    seed: int | None
    n_cases: int

    def table(self, *, kind: str = "model", dimension: str = OVERALL) -> list[Standing]:
        """The standings of one kind on one dimension, best first."""
        rows = [s for s in self.standings if s.kind == kind and s.dimension == dimension]
        return sorted(rows, key=lambda s: (s.rank, s.name))

    def as_dict(self) -> dict:
        return {
            "condition": self.condition,
            "dimensions": list(self.dimensions),
            "n_resamples": self.n_resamples,
            "confidence": self.confidence,
            "seed": self.seed,
            "n_cases": self.n_cases,
            "standings": [s.as_dict() for s in self.standings],
        }


def _ranks(means: np.ndarray) -> np.ndarray:
    """Rank of each column per row, 1 = highest mean, ties averaged; undefined means rank last."""
    return scipy_stats.rankdata(np.where(np.isnan(means), np.inf, -means), axis=-1, method="average")


def leaderboard(
    data: Conversations,
    *,
    condition: str = "full",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int | None,
) -> Leaderboard:
    """Means per model and per family (overall and per dimension) on ``condition``, with case-bootstrap
    percentile intervals and rank intervals (the (1−confidence)/2 and (1+confidence)/2 quantiles of the rank).

    It is long because it computes every model's and family's mean, interval and rank from the same resamples, so
    that ranks and intervals agree."""
    _check_bootstrap(n_resamples, confidence)
    keep = data.condition == condition
    if not keep.any():
        raise ValueError(f"no conversation has condition {condition!r}")
    scores, dimensions = data.with_overall()
    scores = scores[keep]
    case_names, case = _index(data.case[keep])
    weights = case_weights(case_names.size, n_resamples=n_resamples, seed=seed)
    tail = (1 - confidence) / 2
    standings = []
    for kind, labels in (("model", data.model[keep]), ("family", data.family[keep])):
        names, key = _index(labels)
        totals = [_totals(case, key, scores[:, d], case_names.size, names.size) for d in range(len(dimensions))]
        resampled = _resample(weights, *[block for pair in totals for block in pair])
        for d, dimension in enumerate(dimensions):
            sums, counts = totals[d]
            point = _ratio(sums.sum(0), counts.sum(0))
            replicates = _ratio(resampled[2 * d], resampled[2 * d + 1])
            point_rank = _ranks(point)
            replicate_ranks = _ranks(replicates)
            for k, name in enumerate(names):
                defined = np.isfinite(point[k])
                interval = (
                    (
                        float(np.quantile(replicate_ranks[:, k], tail, method="lower")),
                        float(np.quantile(replicate_ranks[:, k], 1 - tail, method="higher")),
                    )
                    if defined
                    else None
                )
                standings.append(
                    Standing(
                        name=str(name),
                        kind=kind,
                        dimension=dimension,
                        mean=_estimate(
                            point[k],
                            replicates[:, k],
                            confidence=confidence,
                            n_units=int(counts[:, k].sum()),
                            n_cases=case_names.size,
                            what=f"{name} on {dimension}",
                        ),
                        rank=float(point_rank[k]),
                        rank_interval=interval,
                        n_conversations=int(counts[:, k].sum()),
                        n_cases=int((counts[:, k] > 0).sum()),
                    )
                )
    return Leaderboard(
        condition=condition,
        dimensions=dimensions,
        standings=tuple(standings),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        n_cases=int(case_names.size),
    )


# --- deltas -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Delta:
    """A difference (``contrast``, e.g. "malignant − rest" or "no_image − full") for one model, or averaged over
    models (``model`` None), on one dimension."""

    contrast: str
    model: str | None
    dimension: str
    delta: Statistic
    n_cases: int

    def as_dict(self) -> dict:
        return {
            "contrast": self.contrast,
            "model": self.model,
            "dimension": self.dimension,
            "delta": self.delta.as_dict(),
            "n_cases": self.n_cases,
        }


def _deltas_from(
    point: np.ndarray,
    replicates: np.ndarray,
    *,
    models: np.ndarray,
    contrast: str,
    dimension: str,
    n_units: np.ndarray,
    n_cases: np.ndarray,
    total_cases: int,
    confidence: float,
) -> list[Delta]:
    """Per-model deltas and their mean over the models whose delta is defined on the full data."""
    out = []
    for k, name in enumerate(models):
        estimate = _estimate(
            point[k],
            replicates[:, k],
            confidence=confidence,
            n_units=int(n_units[k]),
            n_cases=total_cases,
            what=f"{name}: {contrast} (needs conversations on both sides)",
        )
        out.append(Delta(contrast, str(name), dimension, estimate, int(n_cases[k])))
    defined = np.isfinite(point)
    if defined.any():
        average_point = float(point[defined].mean())
        with np.errstate(invalid="ignore"):
            average_replicates = replicates[:, defined].mean(1)
        note_models = f"mean over {int(defined.sum())} models"
    else:
        average_point, average_replicates, note_models = np.nan, np.full(replicates.shape[0], np.nan), ""
    average = _estimate(
        average_point,
        average_replicates,
        confidence=confidence,
        n_units=int(n_units.sum()),
        n_cases=total_cases,
        what=f"any model: {contrast}",
    )
    if average.value is not None:
        average = dataclasses.replace(average, note=f"{note_models}; {average.note}")
    out.append(Delta(contrast, None, dimension, average, int(n_cases.max()) if n_cases.size else 0))
    return out


def subgroup_members(subgroup, *, label: str | None, tags, condition: np.ndarray, at: str):
    """``(member, label, keep)``: one boolean per conversation for ``subgroup`` (a tag, or booleans already), its
    label, and which conversations have condition ``at``; raises ``ValueError`` unless the subgroup holds some but
    not all of those."""
    if isinstance(subgroup, str):
        member = np.array([subgroup in conversation_tags for conversation_tags in tags], dtype=bool)
        label = label or subgroup
    else:
        member = np.asarray(subgroup)
        if member.shape != (len(condition),) or member.dtype != bool:
            raise ValueError(f"subgroup must be a tag or one boolean per conversation ({len(condition)})")
        label = label or "subgroup"
    keep = condition == at
    if not keep.any():
        raise ValueError(f"no conversation has condition {at!r}")
    if not member[keep].any() or member[keep].all():
        raise ValueError(f"the subgroup {label!r} must contain some but not all conversations of {at!r}")
    return member, label, keep


def subgroup_deltas(
    data: Conversations,
    *,
    subgroup: str | Sequence[bool],
    label: str | None = None,
    condition: str = "full",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int | None,
) -> list[Delta]:
    """Δ = mean on the subgroup − mean on the rest, per model and averaged over models, per dimension.

    ``subgroup`` is a tag (conversations carrying it form the subgroup) or a boolean per conversation.
    """
    _check_bootstrap(n_resamples, confidence)
    member, label, keep = subgroup_members(
        subgroup, label=label, tags=data.tags, condition=data.condition, at=condition
    )
    scores, dimensions = data.with_overall()
    scores, member = scores[keep], member[keep]
    case_names, case = _index(data.case[keep])
    models, key = _index(data.model[keep])
    weights = case_weights(case_names.size, n_resamples=n_resamples, seed=seed)
    out: list[Delta] = []
    for d, dimension in enumerate(dimensions):
        inside = np.where(member, scores[:, d], np.nan)
        outside = np.where(~member, scores[:, d], np.nan)
        s_in, n_in = _totals(case, key, inside, case_names.size, models.size)
        s_out, n_out = _totals(case, key, outside, case_names.size, models.size)
        point = _ratio(s_in.sum(0), n_in.sum(0)) - _ratio(s_out.sum(0), n_out.sum(0))
        r_s_in, r_n_in, r_s_out, r_n_out = _resample(weights, s_in, n_in, s_out, n_out)
        replicates = _ratio(r_s_in, r_n_in) - _ratio(r_s_out, r_n_out)
        out += _deltas_from(
            point,
            replicates,
            models=models,
            contrast=f"{label} − rest",
            dimension=dimension,
            n_units=n_in.sum(0) + n_out.sum(0),
            n_cases=((n_in + n_out) > 0).sum(0),
            total_cases=case_names.size,
            confidence=confidence,
        )
    return out


def ablation_deltas(
    data: Conversations,
    *,
    conditions: Sequence[str] = ("no_image", "no_ehr"),
    baseline: str = "full",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int | None,
) -> list[Delta]:
    """Paired Δ = ablated − ``baseline`` per case × model cell; per model the mean over its paired cells, and
    the mean over models; per dimension. Cells without both conditions are left out."""
    _check_bootstrap(n_resamples, confidence)
    if not (data.condition == baseline).any():
        raise ValueError(f"no conversation has the baseline condition {baseline!r}")
    scores, dimensions = data.with_overall()
    case_names, case = _index(data.case)
    models, key = _index(data.model)
    weights = case_weights(case_names.size, n_resamples=n_resamples, seed=seed)
    base = data.condition == baseline
    out: list[Delta] = []
    for condition in conditions:
        ablated = data.condition == condition
        if not ablated.any():
            raise ValueError(f"no conversation has condition {condition!r}")
        for d, dimension in enumerate(dimensions):
            s_a, n_a = _totals(case, key, np.where(ablated, scores[:, d], np.nan), case_names.size, models.size)
            s_b, n_b = _totals(case, key, np.where(base, scores[:, d], np.nan), case_names.size, models.size)
            paired = (n_a > 0) & (n_b > 0)
            cell = np.where(paired, _ratio(s_a, n_a) - _ratio(s_b, n_b), 0.0)
            pairs = paired.astype(float)
            point = _ratio(cell.sum(0), pairs.sum(0))
            replicates = _ratio(*_resample(weights, cell, pairs))
            out += _deltas_from(
                point,
                replicates,
                models=models,
                contrast=f"{condition} − {baseline}",
                dimension=dimension,
                n_units=np.where(paired, n_a + n_b, 0).sum(0),
                n_cases=paired.sum(0),
                total_cases=case_names.size,
                confidence=confidence,
            )
    return out


# --- self-preference --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SelfPreference:
    """Judge ``judge`` of family ``family``: mean (own score − other judges' mean) on its family's models minus the
    same on other families' models. Positive = it favours its own family beyond what the other judges see."""

    judge: str
    family: str
    preference: Statistic
    own_difference: float | None
    other_difference: float | None
    n_own: int
    n_other: int

    def as_dict(self) -> dict:
        return {
            "judge": self.judge,
            "family": self.family,
            "preference": self.preference.as_dict(),
            "own_difference": self.own_difference,
            "other_difference": self.other_difference,
            "n_own": self.n_own,
            "n_other": self.n_other,
        }


def self_preference(
    judge_scores: object,
    *,
    judges: Sequence[str],
    judge_families: Sequence[str],
    case: Sequence,
    family: Sequence,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int | None,
) -> list[SelfPreference]:
    """Self-preference of each judge (raw judge scores, conversations × judges, NaN where missing; ``family`` is the
    family of the model under test in each conversation).

    d_ij = x_ij − mean of the other judges present on conversation i (undefined when none is); the preference of
    judge j is mean d_ij over conversations of its own family's models − mean d_ij over the rest. Pairing each
    score with the other judges' view of the same conversation removes the conversation's quality; the
    difference between own and other families removes the judge's general leniency.

    It is long because it builds, per judge, the paired own-family and other-family differences from one resample
    set.
    """
    _check_bootstrap(n_resamples, confidence)
    try:
        x = np.asarray(judge_scores, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"judge_scores must be numeric (NaN for missing): {error}") from None
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"judge_scores must be conversations × judges with at least two judges; got {x.shape}")
    if np.isinf(x).any():
        raise ValueError("judge_scores contain an infinite value; use NaN for a missing score")
    n, k = x.shape
    names = [str(j) for j in judges]
    if len(names) != k or len(set(names)) != k:
        raise ValueError(f"judges must give {k} distinct names; got {names}")
    judge_family = _labels(judge_families, "judge_families", k)
    families = _labels(family, "family", n)
    case_names, case_index = _index(_labels(case, "case", n))
    weights = case_weights(case_names.size, n_resamples=n_resamples, seed=seed)
    present = ~np.isnan(x)
    filled = np.where(present, x, 0.0)
    other_count = present.sum(1, keepdims=True) - present
    with np.errstate(invalid="ignore", divide="ignore"):
        other_mean = (filled.sum(1, keepdims=True) - filled) / other_count
    difference = np.where(present & (other_count > 0), x - other_mean, np.nan)
    own = families[:, None] == judge_family[None, :]
    judge_key = np.arange(k)
    flat_case = np.repeat(case_index, k)
    flat_key = np.tile(judge_key, n)
    s_own, n_own = _totals(flat_case, flat_key, np.where(own, difference, np.nan).ravel(), case_names.size, k)
    s_oth, n_oth = _totals(flat_case, flat_key, np.where(~own, difference, np.nan).ravel(), case_names.size, k)
    own_mean, other_mean_d = _ratio(s_own.sum(0), n_own.sum(0)), _ratio(s_oth.sum(0), n_oth.sum(0))
    point = own_mean - other_mean_d
    r_s_own, r_n_own, r_s_oth, r_n_oth = _resample(weights, s_own, n_own, s_oth, n_oth)
    replicates = _ratio(r_s_own, r_n_own) - _ratio(r_s_oth, r_n_oth)
    out = []
    for j in range(k):
        estimate = _estimate(
            point[j],
            replicates[:, j],
            confidence=confidence,
            n_units=int(n_own[:, j].sum() + n_oth[:, j].sum()),
            n_cases=case_names.size,
            what=f"{names[j]} (needs scored conversations of its own family {judge_family[j]!r} and of others)",
        )
        out.append(
            SelfPreference(
                judge=names[j],
                family=str(judge_family[j]),
                preference=estimate,
                own_difference=float(own_mean[j]) if np.isfinite(own_mean[j]) else None,
                other_difference=float(other_mean_d[j]) if np.isfinite(other_mean_d[j]) else None,
                n_own=int(n_own[:, j].sum()),
                n_other=int(n_oth[:, j].sum()),
            )
        )
    return out
