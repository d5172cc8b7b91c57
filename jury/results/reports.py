"""What the calibration and leaderboard pages show, assembled from the results and the pure statistics.

The leaderboard's tables and figures are computed once per calibration and set of scored judgements, and cached.
"""

import hashlib
import json
import re
from functools import partial

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max
from django.template.defaultfilters import pluralize

from annotation.models import Campaign, Conversation
from jury.models import CalibrationArtifact, Judgement
from jury.results.calibration import (
    calibrate_campaign,
    calibrated_scores,
    case_attributes,
    dimensions_of,
    fitted_from_artifact,
    held_out_predictions,
    leaderboard_data,
    self_preference_rows,
)
from jury.statistics import leaderboard as leaderboard_stats
from jury.statistics import plots as result_plots
from jury.statistics.plots import Estimate

BOOTSTRAP_SEED = 0
ABLATIONS = ("no_image", "no_ehr")
MIN_SUBGROUP_CASES = 3  # a one-vs-rest contrast needs this many cases on each side to be shown
AVERAGE_ROW = "mean over models"
CACHE_SECONDS = 15 * 60

METRICS = (
    ("mae", "MAE"),
    ("rmse", "RMSE"),
    ("spearman", "Spearman ρ"),
    ("qwk", "κ (quadratic)"),
    ("alpha", "α with the jury"),
    ("delta_mae", "Δ MAE vs equal"),
)


def _labels() -> dict:
    """Whether the figures rest on synthetic demo conversations or simulated judges: pages must say so."""
    return {
        "synthetic": Conversation.objects.filter(synthetic=True).exists(),
        "simulated": Judgement.objects.filter(simulated=True).exists(),
    }


def _self_preference(dimension: str) -> dict:
    try:
        return {"rows": self_preference_rows(dimension=dimension)}
    except ValueError as error:
        return {"problem": str(error)}


def _calibration(campaign: Campaign):
    try:
        return calibrate_campaign(campaign=campaign), None
    except ValueError as error:
        return None, str(error)


def calibration_report(*, campaign: Campaign) -> dict:
    """What the calibration page shows: each dimension's methods side by side, weights, ceiling, self-preference
    and held-out reliability figure, the saved versions, and why there is nothing when the campaign cannot
    calibrate."""
    result, problem = _calibration(campaign)
    dimensions = []
    if result is not None:
        names = dict(campaign.rubric.dimensions.values_list("key", "name"))
        compared = {d: _compared_methods(report) for d, report in result.reports.items()}
        held_out = held_out_predictions(result=result, methods=sorted({m for pair in compared.values() for m in pair}))
        for dimension, report in result.reports.items():
            chosen = report.calibration
            dimensions.append(
                {
                    "key": dimension,
                    "name": names.get(dimension, dimension),
                    "report": report,
                    "rows": [
                        {
                            "method": name,
                            "chosen": name == report.chosen,
                            "figures": [getattr(method, metric) for metric, _ in METRICS],
                        }
                        for name, method in report.methods.items()
                    ],
                    "weights": sorted(zip(chosen.judges, chosen.weights, strict=True), key=lambda w: -w[1])
                    if chosen.weights is not None
                    else [],
                    "ceiling": sorted(report.ceiling.items()),
                    "self_preference": _self_preference(dimension),
                    "reliability": _reliability_plot(
                        dimension, names.get(dimension, dimension), compared[dimension], held_out[dimension]
                    ),
                }
            )
    context = {
        "problem": problem,
        "result": result,
        "dimensions": dimensions,
        "metrics": [label for _, label in METRICS],
        "saved": CalibrationArtifact.objects.filter(campaign=campaign).select_related("created_by"),
        **_labels(),
    }
    return context


def leaderboard_report(*, campaign: Campaign) -> dict:
    """What the leaderboard page shows, from the latest saved calibration (or one fitted now when none is saved)."""
    artifact = CalibrationArtifact.objects.filter(campaign=campaign).first()
    if artifact is not None:
        fitted, methods, problem = fitted_from_artifact(artifact), artifact.methods, None
    else:
        result, problem = _calibration(campaign)
        fitted = {d: r.calibration for d, r in result.reports.items()} if result is not None else None
        methods = {d: r.chosen for d, r in result.reports.items()} if result is not None else {}
    context = {"problem": problem, "artifact": artifact, **_labels()}
    if fitted is not None:
        try:
            context |= _leaderboard(campaign, fitted)
        except ValueError as error:
            context["problem"] = f"The leaderboard cannot be computed: {error}."
    context["methods"] = methods
    return context


def _plot_key(*parts: str) -> str:
    """An HTML id prefix for one figure (dimension keys are slugs, but nothing else may reach an id)."""
    return re.sub(r"[^\w-]+", "-", "-".join(parts))


def _compared_methods(report) -> dict[str, str]:
    """The chosen method and what it is judged against: equal, or when equal was chosen, the best alternative."""
    if report.chosen != "equal":
        return {report.chosen: f"{report.chosen} (chosen)", "equal": "equal (baseline)"}
    others = [m for m in report.methods if m != "equal" and report.methods[m].mae.value is not None]
    if not others:
        return {"equal": "equal (chosen)"}
    best = min(others, key=lambda m: report.methods[m].mae.value)
    return {"equal": "equal (chosen)", best: f"{best} (best alternative, not chosen)"}


def _reliability_plot(dimension: str, name: str, compared: dict[str, str], held_out: dict) -> str:
    """Held-out jury score against the clinicians' score, one panel per compared method."""
    return result_plots.reliability_svg(
        key=_plot_key("reliability", dimension),
        title=f"{name}: held-out calibrated jury score against the clinicians' score",
        target=held_out["target"],
        predictions={label: held_out["predictions"][method] for method, label in compared.items()},
    )


def _leaderboard(campaign: Campaign, fitted: dict) -> dict:
    """The tables and figures of the leaderboard page, cached until the calibration or the scored judgements change
    (drawing the figures takes seconds)."""
    scored = Judgement.objects.filter(status=Judgement.Status.SCORED).aggregate(n=Count("id"), last=Max("id"))
    calibration_json = json.dumps({d: model.as_dict() for d, model in sorted(fitted.items())}, sort_keys=True)
    fingerprint = hashlib.sha256(f"{calibration_json}|{scored['n']}|{scored['last']}".encode()).hexdigest()
    cache_key = f"leaderboard-page:{campaign.pk}:{fingerprint}"
    page = cache.get(cache_key)
    if page is None:
        page = _compute_leaderboard(campaign, fitted)
        cache.set(cache_key, page, CACHE_SECONDS)
    return page


def _compute_leaderboard(campaign: Campaign, fitted: dict) -> dict:
    """Every bootstrap computed once, its figures drawn from the same numbers as the tables."""
    dimensions = dimensions_of(campaign)
    scores = calibrated_scores(fitted=fitted)
    if not scores:
        raise ValueError("no conversation has a calibrated jury score")
    data = leaderboard_data(scores=scores, dimensions=dimensions)
    board = leaderboard_stats.leaderboard(data, seed=BOOTSTRAP_SEED)
    columns = list(board.dimensions)
    models, families = _table(board, "model", columns), _table(board, "family", columns)
    order = [row["name"] for row in models]
    subgroups = _subgroups(data, attributes=case_attributes(scores=scores))
    ablations = _ablations(data)
    return {
        "columns": columns,
        "n_conversations": len(scores),
        "models": models,
        "families": families,
        "board": board,
        "min_subgroup_cases": MIN_SUBGROUP_CASES,
        "subgroups": subgroups,
        "subgroup_rows": _average_rows(subgroups["deltas"], columns),
        "ablations": ablations,
        "ablation_rows": _average_rows(ablations["deltas"], columns),
        "forest_models": _forest(board, "model", "Models", columns),
        "forest_families": _forest(board, "family", "Families", columns),
        "subgroup_heatmaps": [_heatmap(subgroups, column, order, _colour_limit(subgroups)) for column in columns],
        "ablation_plot": _ablation_plot(ablations, order, columns),
    }


def _subgroup_masks(data: leaderboard_stats.Conversations, attributes: dict[str, list[str]]):
    """(label, one boolean per conversation) for the case tags and for each modality and specialty."""
    for tag in ("malignant", "rare"):
        yield tag, np.array([tag in tags for tags in data.tags], dtype=bool)
    for attribute, values in attributes.items():
        values = np.array(values, dtype=object)
        for level in sorted(set(values) - {""}):
            yield f"{attribute}: {level}", values == level


def _subgroups(data: leaderboard_stats.Conversations, *, attributes: dict[str, list[str]]) -> dict:
    """One-vs-rest Δ per model for every subgroup with enough cases on both sides; the others listed with why."""
    full = data.condition == "full"

    def contrast(label: str, member: np.ndarray):
        inside, outside = len(set(data.case[member & full])), len(set(data.case[~member & full]))
        if min(inside, outside) < MIN_SUBGROUP_CASES:
            raise ValueError(f"{inside} case{pluralize(inside)} in it, {outside} outside")
        return leaderboard_stats.subgroup_deltas(data, subgroup=member, label=label, seed=BOOTSTRAP_SEED)

    return _contrasts((label, partial(contrast, label, member)) for label, member in _subgroup_masks(data, attributes))


def _ablations(data: leaderboard_stats.Conversations) -> dict:
    return _contrasts(
        (condition, partial(leaderboard_stats.ablation_deltas, data, conditions=(condition,), seed=BOOTSTRAP_SEED))
        for condition in ABLATIONS
    )


def _contrasts(computations) -> dict:
    """Run each (label, compute) of one kind of contrast; those that raise ValueError are listed with the reason."""
    deltas, contrasts, skipped = [], [], []
    for label, compute in computations:
        try:
            found = compute()
        except ValueError as error:
            skipped.append({"label": label, "reason": str(error)})
            continue
        deltas += found
        contrasts.append(found[0].contrast)
    return {"deltas": deltas, "contrasts": contrasts, "skipped": skipped}


def _average_rows(deltas: list[leaderboard_stats.Delta], columns: list[str]) -> list[dict]:
    """One table row per contrast: its mean-over-models Δ in each column."""
    by_contrast: dict[str, dict] = {}
    for delta in deltas:
        if delta.model is None:
            by_contrast.setdefault(delta.contrast, {})[delta.dimension] = delta
    return [
        {
            "contrast": contrast,
            "cells": [cells.get(c) for c in columns],
            "n_cases": max(d.n_cases for d in cells.values()),
        }
        for contrast, cells in by_contrast.items()
    ]


def _forest(board: leaderboard_stats.Leaderboard, kind: str, title: str, columns: list[str]) -> str:
    rows = [s for s in board.standings if s.kind == kind]
    return result_plots.forest_svg(
        key=f"forest-{kind}",
        title=f"{title}: calibrated jury score under the full condition (95 % case-bootstrap interval)",
        rows=list(dict.fromkeys(s.name for s in rows)),
        columns=columns,
        estimates={(s.name, s.dimension): Estimate.of(s.mean) for s in rows},
    )


def _colour_limit(subgroups: dict) -> float:
    """One colour scale for every dimension's heatmap, so that equal colours mean equal differences."""
    values = [abs(d.delta.value) for d in subgroups["deltas"] if d.delta.value is not None]
    return max([*values, 0.5])


def _heatmap(subgroups: dict, column: str, order: list[str], limit: float) -> dict:
    estimates = {
        (delta.model or AVERAGE_ROW, delta.contrast): Estimate.of(delta.delta)
        for delta in subgroups["deltas"]
        if delta.dimension == column
    }
    svg = result_plots.heatmap_svg(
        key=_plot_key("subgroups", column),
        title=f"Subgroup − rest, {column}: calibrated score difference per model",
        rows=[*order, AVERAGE_ROW],
        columns=subgroups["contrasts"],
        estimates=estimates,
        limit=limit,
    )
    return {"dimension": column, "svg": svg}


def _ablation_plot(ablations: dict, order: list[str], columns: list[str]) -> str:
    return result_plots.ablation_svg(
        key="ablations",
        title="Ablations: score without the image or the health record minus the full conversation",
        rows=[*order, AVERAGE_ROW],
        contrasts=ablations["contrasts"],
        series=columns,
        estimates={
            (delta.model or AVERAGE_ROW, delta.contrast, delta.dimension): Estimate.of(delta.delta)
            for delta in ablations["deltas"]
        },
    )


def _table(board, kind: str, columns: list[str]) -> list[dict]:
    by_name: dict[str, dict] = {}
    for standing in board.standings:
        if standing.kind == kind:
            by_name.setdefault(standing.name, {})[standing.dimension] = standing
    rows = [
        {"name": name, "cells": [cells.get(c) for c in columns], "overall": cells.get("overall")}
        for name, cells in by_name.items()
    ]
    return sorted(rows, key=lambda row: (row["overall"].rank if row["overall"] else 1e9, row["name"]))
