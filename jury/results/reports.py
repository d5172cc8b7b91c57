"""What the calibration and leaderboard pages show, assembled from the results and the pure statistics.

Both reports take seconds (cross-validation, the bootstrap with refits, the figures), so each is cached under
:func:`inputs_hash`, a hash of everything it is computed from: a changed clinician score, judgement or saved
calibration gives another hash, and the report is computed again.
"""

import hashlib
import json
import re
from functools import partial

import numpy as np
from django.core.cache import cache
from django.db.models import Count, F, Max, Q, Sum
from django.template.defaultfilters import pluralize

from annotation.models import Campaign, Conversation
from jury.models import CalibrationArtifact, Judgement
from jury.results.calibration import (
    NotReady,
    calibrate_campaign,
    dimensions_of,
    fitted_from_artifact,
    held_out_predictions,
    judgements_missing,
    self_preference_rows,
)
from jury.results.inference import (
    ESTIMATOR,
    LABELS,
    MIN_CLINICIAN,
    campaign_inference,
    transport_warnings,
)
from jury.results.inputs import clinician_targets
from jury.statistics import plots as result_plots
from jury.statistics.calibration import METHOD_LABELS
from jury.statistics.leaderboard import contrast_label
from jury.statistics.plots import Estimate

BOOTSTRAP_SEED = 0
N_RESAMPLES = 2000
ABLATIONS = ("no_image", "no_ehr")
MIN_SUBGROUP_CASES = 3  # a one-vs-rest contrast needs this many cases on each side to be shown
AVERAGE_ROW = "mean over models"
CACHE_SECONDS = 60 * 60
REPORT_FORMAT = 1  # part of every cache key: change it when what a cached report holds changes

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


def inputs_hash(*, campaign: Campaign, artifact: CalibrationArtifact | None = None) -> str:
    """SHA-256 of what a results page is computed from: the rubric's dimensions, every submitted clinician score
    of the campaign (which annotations, each clinician's rating and the target, adjudications included), the scored
    judgements (how many, how many simulated, the last id and a checksum of id × score), the conversations (how
    many, how many synthetic, the last id), the saved calibration used (``artifact``) and the estimator's version.
    A few queries; no statistics."""
    dimensions = dimensions_of(campaign)
    targets = clinician_targets(campaign=campaign, dimensions=dimensions)
    judgements = Judgement.objects.filter(status=Judgement.Status.SCORED).aggregate(
        n=Count("id"),
        last=Max("id"),
        checksum=Sum(F("id") * F("score")),
        simulated=Count("id", filter=Q(simulated=True)),
    )
    conversations = Conversation.objects.aggregate(
        n=Count("id"), last=Max("id"), synthetic=Count("id", filter=Q(synthetic=True))
    )
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            [REPORT_FORMAT, ESTIMATOR["version"], campaign.pk, dimensions, targets.conversation_ids,
             targets.clinicians, targets.annotation_ids, judgements, conversations,
             [artifact.pk, artifact.inputs_hash] if artifact is not None else None],
            default=str,
        ).encode()
    )  # fmt: skip
    for dimension in dimensions:
        digest.update(np.ascontiguousarray(targets.ratings[dimension], dtype=float).tobytes())
        digest.update(np.ascontiguousarray(targets.target[dimension], dtype=float).tobytes())
    return digest.hexdigest()


def _cached(key: str, compute):
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def cached_calibration(*, campaign: Campaign, fingerprint: str | None = None):
    """``(result, problem)`` of calibrating the campaign, cached under its inputs' hash; one of the two is None."""
    fingerprint = fingerprint or inputs_hash(campaign=campaign)
    return _cached(f"calibration:{campaign.pk}:{fingerprint}", lambda: _calibration(campaign))


def _calibration(campaign: Campaign):
    try:
        return calibrate_campaign(campaign=campaign), None
    except NotReady as error:
        return None, str(error)
    except ValueError as error:
        return None, (
            f"The jury's and the clinicians' scores of campaign “{campaign.name}” cannot be cross-validated yet "
            f"({error}). Ask clinicians to score more conversations, in more cases, that the jury has scored."
        )


def calibration_report(*, campaign: Campaign, fingerprint: str | None = None) -> dict:
    """What the calibration page shows: each dimension's methods side by side, weights, ceiling, self-preference
    and held-out reliability figure, the saved versions, and why there is nothing when the campaign cannot
    calibrate. Everything but the saved versions is cached under ``fingerprint`` (:func:`inputs_hash`)."""
    fingerprint = fingerprint or inputs_hash(campaign=campaign)
    report = _cached(
        f"calibration-report:{campaign.pk}:{fingerprint}", lambda: _calibration_report(campaign, fingerprint)
    )
    return report | {"saved": CalibrationArtifact.objects.filter(campaign=campaign).select_related("created_by")}


def _calibration_report(campaign: Campaign, fingerprint: str) -> dict:
    result, problem = cached_calibration(campaign=campaign, fingerprint=fingerprint)
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
    return {
        "problem": problem,
        "judgements_missing": problem is not None and judgements_missing(campaign=campaign),
        "result": result,
        "dimensions": dimensions,
        "metrics": [label for _, label in METRICS],
        **_labels(),
    }


def latest_artifact(*, campaign: Campaign) -> CalibrationArtifact | None:
    return CalibrationArtifact.objects.filter(campaign=campaign).first()


def leaderboard_report(*, campaign: Campaign, fingerprint: str | None = None) -> dict:
    """What the leaderboard page shows, from the latest saved calibration (or one fitted now when none is saved):
    prediction-powered estimates with the clinicians-only and jury-only ones beside them. Cached under
    ``fingerprint`` (:func:`inputs_hash` with the latest saved calibration)."""
    artifact = latest_artifact(campaign=campaign)
    fingerprint = fingerprint or inputs_hash(campaign=campaign, artifact=artifact)
    return _cached(f"leaderboard-report:{campaign.pk}:{fingerprint}", lambda: _leaderboard_report(campaign, artifact))


def _leaderboard_report(campaign: Campaign, artifact: CalibrationArtifact | None) -> dict:
    if artifact is not None:
        fitted, methods, problem = fitted_from_artifact(artifact), artifact.methods, None
    else:
        result, problem = cached_calibration(campaign=campaign)
        fitted = {d: r.calibration for d, r in result.reports.items()} if result is not None else None
        methods = {d: r.chosen for d, r in result.reports.items()} if result is not None else {}
    context = {"problem": problem, "artifact": artifact, "estimator_labels": LABELS, **_labels()}
    if fitted is not None:
        try:
            context |= _compute_leaderboard(campaign, dimensions_of(campaign), fitted if artifact is not None else None)
        except ValueError as error:
            context["problem"] = f"The leaderboard cannot be computed: {error}."
    context["methods"] = methods
    return context


def _plot_key(*parts: str) -> str:
    """An HTML id prefix for one figure (dimension keys are slugs, but nothing else may reach an id)."""
    return re.sub(r"[^\w-]+", "-", "-".join(parts))


def _compared_methods(report) -> dict[str, str]:
    """The chosen method and what it is judged against: equal, or when equal was chosen, the best alternative."""
    name = METHOD_LABELS.get
    if report.chosen != "equal":
        return {report.chosen: f"{name(report.chosen)} (chosen)", "equal": f"{name('equal')} (baseline)"}
    others = [m for m in report.methods if m != "equal" and report.methods[m].mae.value is not None]
    if not others:
        return {"equal": f"{name('equal')} (chosen)"}
    best = min(others, key=lambda m: report.methods[m].mae.value)
    return {"equal": f"{name('equal')} (chosen)", best: f"{name(best)} (best alternative, not chosen)"}


def _reliability_plot(dimension: str, name: str, compared: dict[str, str], held_out: dict) -> str:
    """Held-out jury score against the clinicians' score, one panel per compared method."""
    return result_plots.reliability_svg(
        key=_plot_key("reliability", dimension),
        title=f"{name}: held-out calibrated jury score against the clinicians' score",
        target=held_out["target"],
        predictions={label: held_out["predictions"][method] for method, label in compared.items()},
    )


def _compute_leaderboard(campaign: Campaign, dimensions: list[str], saved: dict | None) -> dict:
    """Every bootstrap computed once, its figures drawn from the same numbers as the tables."""
    inference = campaign_inference(
        campaign=campaign, dimensions=dimensions, fitted=saved, n_resamples=N_RESAMPLES, confidence=0.95,
        seed=BOOTSTRAP_SEED,
    )  # fmt: skip
    board = inference.leaderboard()
    columns = list(board.dimensions)
    models = [{"dimension": c, "rows": board.table(kind="model", dimension=c)} for c in columns]
    order = [e.name for e in models[0]["rows"]]
    subgroups = _subgroups(inference)
    ablations = _ablations(inference)
    return {
        "columns": columns,
        "n_conversations": len(inference.conversations.data),
        "left_out": inference.conversations.left_out,
        "estimator": inference.estimator(),
        "min_clinician": MIN_CLINICIAN,
        "model_tables": models,
        "family_tables": [{"dimension": c, "rows": board.table(kind="family", dimension=c)} for c in columns],
        "transport_rows": _transport_rows(board, order, columns),
        "transport_warnings": transport_warnings(board),
        "min_subgroup_cases": MIN_SUBGROUP_CASES,
        "n_clinician_full": sum(e.n_clinician for e in models[0]["rows"]),
        "models_defined": any(e.ppi.value is not None for e in board.estimates if e.kind == "model"),
        "subgroups_defined": _any_defined(subgroups["deltas"]),
        "ablations_defined": _any_defined(ablations["deltas"]),
        "subgroups": subgroups,
        "subgroup_tables": _average_tables(subgroups["deltas"], columns),
        "ablations": ablations,
        "ablation_tables": _average_tables(ablations["deltas"], columns),
        "forest_models": _forest(board, "model", "Models", columns),
        "forest_families": _forest(board, "family", "Families", columns),
        "subgroup_heatmaps": [_heatmap(subgroups, column, order, _colour_limit(subgroups)) for column in columns],
        "ablation_plot": _ablation_plot(ablations, order, columns),
    }


def _any_defined(deltas: list) -> bool:
    """Whether the page has a Δ of this kind to show: a model's by PPI (the figure) or a mean over models by some
    estimator (the table). If not, the page says why in one sentence instead of a blank figure and a table of
    reasons."""
    return any(
        delta.ppi.value is not None
        or (delta.model is None and any(s.value is not None for s in (delta.clinicians, delta.jury)))
        for delta in deltas
    )


def _transport_rows(board, order: list[str], columns: list[str]) -> list[dict]:
    """Per model, the residual clinician − calibrated jury in each column, and whether any interval excludes 0."""
    by_key = {(e.name, e.dimension): e for e in board.estimates if e.kind == "model"}
    rows = []
    for name in order:
        cells = [by_key.get((name, c)) for c in columns]
        flagged = any(c is not None and c.transport_flag for c in cells)
        checked = any(c is not None and c.transport.value is not None for c in cells)
        rows.append({"name": name, "cells": cells, "flagged": flagged, "checked": checked})
    return rows


def _subgroup_masks(conversations):
    """(label, one boolean per conversation) for the case tags and for each modality and specialty."""
    facts = conversations.facts
    for tag in ("malignant", "rare"):
        yield tag, np.array([bool(f[f"case__{tag}"]) for f in facts], dtype=bool)
    for attribute in ("modality", "specialty"):
        values = np.array([f[f"case__{attribute}"] or "" for f in facts], dtype=object)
        for level in sorted(set(values) - {""}):
            yield f"{attribute}: {level}", values == level


def _subgroups(inference) -> dict:
    """One-vs-rest Δ per model for every subgroup with enough cases on both sides; the others listed with why."""
    labels = inference.conversations.data.labels
    full = labels.condition == "full"

    def contrast(label: str, member: np.ndarray):
        inside, outside = len(set(labels.case[member & full])), len(set(labels.case[~member & full]))
        if min(inside, outside) < MIN_SUBGROUP_CASES:
            raise ValueError(f"{inside} case{pluralize(inside)} in it, {outside} outside")
        return inference.subgroup_deltas(subgroup=member, label=label)

    masks = _subgroup_masks(inference.conversations)
    return _contrasts((label, partial(contrast, label, member)) for label, member in masks)


def _ablations(inference) -> dict:
    return _contrasts(
        (condition, partial(inference.ablation_deltas, conditions=(condition,))) for condition in ABLATIONS
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


def _average_tables(deltas: list, columns: list[str]) -> list[dict]:
    """Per column, one row per contrast: its mean-over-models Δ by the three estimators."""
    by_column: dict[str, list] = {c: [] for c in columns}
    for delta in deltas:
        if delta.model is None and delta.dimension in by_column:
            by_column[delta.dimension].append(delta)
    return [{"dimension": c, "rows": rows} for c, rows in by_column.items()]


def _forest(board, kind: str, title: str, columns: list[str]) -> str:
    rows = [e for e in board.estimates if e.kind == kind]
    return result_plots.forest_svg(
        key=f"forest-{kind}",
        title=f"{title}: PPI estimate (jury + clinicians) under the full condition, 95 % interval",
        rows=list(dict.fromkeys(e.name for e in rows)),
        columns=columns,
        estimates={(e.name, e.dimension): Estimate.of(e.ppi) for e in rows},
        x_label="PPI estimate of the clinicians' mean score, with its 95 % interval",
    )


def _colour_limit(subgroups: dict) -> float:
    """One colour scale for every dimension's heatmap, so that equal colours mean equal differences."""
    values = [abs(d.ppi.value) for d in subgroups["deltas"] if d.ppi.value is not None]
    return max([*values, 0.5])


def _heatmap(subgroups: dict, column: str, order: list[str], limit: float) -> dict:
    estimates = {
        (delta.model or AVERAGE_ROW, delta.contrast): Estimate.of(delta.ppi)
        for delta in subgroups["deltas"]
        if delta.dimension == column
    }
    svg = result_plots.heatmap_svg(
        key=_plot_key("subgroups", column),
        title=f"Subgroup − rest, {column}: PPI difference per model",
        rows=[*order, AVERAGE_ROW],
        columns=subgroups["contrasts"],
        estimates=estimates,
        limit=limit,
        colour_label="Δ PPI estimate (subgroup − rest)",
    )
    return {"dimension": column, "svg": svg}


def _ablation_plot(ablations: dict, order: list[str], columns: list[str]) -> str:
    return result_plots.ablation_svg(
        key="ablations",
        title="Ablations (PPI): score without the image or the health record minus the full conversation",
        rows=[*order, AVERAGE_ROW],
        contrasts=ablations["contrasts"],
        series=columns,
        estimates={
            (delta.model or AVERAGE_ROW, delta.contrast, delta.dimension): Estimate.of(delta.ppi)
            for delta in ablations["deltas"]
        },
        x_label="Δ PPI estimate (ablated − full), paired by case",
        contrast_labels={contrast: contrast_label(contrast) for contrast in ablations["contrasts"]},
    )
