"""Calibration and leaderboard pages for researchers: the jury calibrated against one campaign's clinicians."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Campaign, Conversation
from annotation.roles import Role, role_required

from . import leaderboard_stats
from .calibration_service import (
    calibrate_campaign,
    calibrated_scores,
    dimensions_of,
    fitted_from_artifact,
    leaderboard_data,
    save_calibration,
    self_preference_rows,
)
from .models import CalibrationArtifact, Judgement

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


@require_GET
@role_required(Role.RESEARCHER, Role.ADMIN)
def calibration_page(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), key=key)
    result, problem = _calibration(campaign)
    dimensions = []
    if result is not None:
        names = dict(campaign.rubric.dimensions.values_list("key", "name"))
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
                }
            )
    context = {
        "campaign": campaign,
        "problem": problem,
        "result": result,
        "dimensions": dimensions,
        "metrics": [label for _, label in METRICS],
        "saved": CalibrationArtifact.objects.filter(campaign=campaign).select_related("created_by"),
        **_labels(),
    }
    return render(request, "jury/results/calibration.html", context)


@require_GET
@role_required(Role.RESEARCHER, Role.ADMIN)
def leaderboard_page(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), key=key)
    artifact = CalibrationArtifact.objects.filter(campaign=campaign).first()
    if artifact is not None:
        fitted, methods, problem = fitted_from_artifact(artifact), artifact.methods, None
    else:
        result, problem = _calibration(campaign)
        fitted = {d: r.calibration for d, r in result.reports.items()} if result is not None else None
        methods = {d: r.chosen for d, r in result.reports.items()} if result is not None else {}
    context = {"campaign": campaign, "problem": problem, "artifact": artifact, **_labels()}
    if fitted is not None:
        dimensions = dimensions_of(campaign)
        scores = calibrated_scores(fitted=fitted)
        data = leaderboard_data(scores=scores, dimensions=dimensions)
        board = leaderboard_stats.leaderboard(data, seed=0)
        columns = ["overall", *dimensions]
        context |= {
            "columns": columns,
            "n_conversations": len(scores),
            "methods": methods,
            "models": _table(board, "model", columns),
            "families": _table(board, "family", columns),
            "deltas": [
                *_averages(lambda: leaderboard_stats.subgroup_deltas(data, subgroup="malignant", seed=0), "malignant"),
                *_averages(lambda: leaderboard_stats.subgroup_deltas(data, subgroup="rare", seed=0), "rare"),
                *_averages(lambda: leaderboard_stats.ablation_deltas(data, seed=0), "ablations"),
            ],
            "board": board,
        }
    return render(request, "jury/results/leaderboard.html", context)


def _averages(compute, label: str) -> list[dict]:
    """The across-model Δ rows of one contrast, or one row saying why it cannot be computed for these data."""
    try:
        return [{"delta": d} for d in compute() if d.model is None]
    except ValueError as error:
        return [{"label": label, "problem": str(error)}]


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


@require_POST
@role_required(Role.RESEARCHER, Role.ADMIN)
def save_calibration_view(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, key=key)
    try:
        artifact, created = save_calibration(campaign=campaign, actor=request.user)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        if created:
            messages.success(request, f"Saved calibration v{artifact.version} ({artifact.inputs_hash[:12]}).")
        else:
            messages.info(request, f"Nothing new: calibration v{artifact.version} was fitted on exactly these inputs.")
    return redirect("campaign-calibration", key=campaign.key)
