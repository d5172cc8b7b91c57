"""Published leaderboard snapshots: a campaign's list with the "Publish snapshot" button, and one frozen snapshot."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Campaign
from annotation.roles import Action, action_required
from jury import selectors
from jury.models import LeaderboardSnapshot
from jury.results.inference import LABELS, LEGACY_LABEL
from jury.results.leaderboard import NoCalibration, publish_leaderboard, snapshot_deltas


@require_GET
@action_required(Action.SEE_RESULTS)
def snapshot_list(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, key=key)
    context = {
        "campaign": campaign,
        "snapshots": selectors.leaderboard_snapshots(campaign=campaign),
        "calibration": selectors.latest_calibration(campaign=campaign),
    }
    return render(request, "jury/snapshots/list.html", context)


@require_POST
@action_required(Action.PUBLISH_RESULTS)
def snapshot_publish(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, key=key)
    try:
        snapshot, created = publish_leaderboard(campaign=campaign, user=request.user)
    except (NoCalibration, ValueError) as error:
        messages.error(request, str(error))
        return redirect("results:snapshot-list", key=campaign.key)
    if created:
        messages.success(request, f"Published snapshot {snapshot.pk} ({snapshot.content_hash[:12]}).")
    else:
        messages.info(
            request, f"Nothing new: snapshot {snapshot.pk} was published from exactly these calibration and judgements."
        )
    return redirect("snapshots:detail", pk=snapshot.pk)


@require_GET
@action_required(Action.SEE_RESULTS)
def snapshot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    snapshot = get_object_or_404(selectors.leaderboard_snapshots(), pk=pk)
    board = snapshot.payload
    context = {
        "snapshot": snapshot,
        "board": board,
        "estimator_labels": LABELS,
        "legacy_label": LEGACY_LABEL,
        "models": _rows(board, "models"),
        "families": _rows(board, "families"),
        "deltas": snapshot_deltas(board),
    }
    return render(request, "jury/snapshots/detail.html", context)


def _rows(board: dict, table: str) -> list[dict]:
    """A snapshot's table with its cells in column order (templates cannot index by a variable key)."""
    first = board["columns"][0]
    return [
        {
            **row,
            "cells": [row["scores"].get(column) for column in board["columns"]],
            "overall": row.get("estimates", {}).get(first),
        }
        for row in board[table]
    ]


@require_GET
@action_required(Action.SEE_RESULTS)
def snapshot_json(request: HttpRequest, pk: int) -> JsonResponse:
    snapshot = get_object_or_404(LeaderboardSnapshot, pk=pk)
    response = JsonResponse(
        {
            "id": snapshot.pk,
            "inputs_hash": snapshot.inputs_hash,
            "judgement_set_hash": snapshot.judgement_set_hash,
            "content_hash": snapshot.content_hash,
            "app_version": snapshot.app_version,
            "created_at": snapshot.created_at.isoformat(),
            "payload": snapshot.payload,
        },
        json_dumps_params={"ensure_ascii": False},
    )
    response["Content-Disposition"] = f'attachment; filename="imcbench-leaderboard-{snapshot.pk}.json"'
    return response
