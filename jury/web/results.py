"""Calibration and leaderboard pages for researchers: the jury calibrated against one campaign's clinicians."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Campaign
from annotation.roles import Action, action_required
from jury.results.calibration import save_calibration
from jury.results.reports import calibration_report, leaderboard_report


@require_GET
@action_required(Action.SEE_RESULTS)
def calibration_page(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), key=key)
    context = {"campaign": campaign, **calibration_report(campaign=campaign)}
    return render(request, "jury/results/calibration.html", context)


@require_GET
@action_required(Action.SEE_RESULTS)
def leaderboard_page(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), key=key)
    context = {"campaign": campaign, **leaderboard_report(campaign=campaign)}
    return render(request, "jury/results/leaderboard.html", context)


@require_POST
@action_required(Action.PUBLISH_RESULTS)
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
    return redirect("results:calibration", key=campaign.key)
