"""Calibration and leaderboard pages for researchers: the jury calibrated against one campaign's clinicians."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Campaign
from annotation.roles import Action, action_required
from imcbench_site.http import HtmxHttpRequest
from jury.results.calibration import save_calibration
from jury.results.planning import campaign_planning
from jury.results.reports import calibration_report, leaderboard_report

MAX_HALF_WIDTH = 5.0  # the scores run 1–5: no interval is wider


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


def _half_width(raw: str) -> tuple[float | None, str | None]:
    """The ± the researcher typed ("0.10", "±0.1"), or the error naming the field."""
    text = raw.strip().lstrip("±").strip()
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        return None, f"half_width: {raw!r} is not a number; type the ± you want, e.g. 0.10"
    if not 0 < value <= MAX_HALF_WIDTH:
        return None, f"half_width: must be above 0 and at most {MAX_HALF_WIDTH:g}; got {raw!r}"
    return value, None


@require_GET
@action_required(Action.SEE_RESULTS)
def planning_panel(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """Each leaderboard row's width now and projected; the full page, or its panel for htmx."""
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), key=key)
    half_width, error = _half_width(request.GET.get("half_width", ""))
    context = {"campaign": campaign, "error": error, "typed": request.GET.get("half_width", "")}
    context |= campaign_planning(campaign=campaign, half_width=half_width)
    template_name = "jury/results/planning.html"
    if request.htmx:
        template_name += "#panel"
    return render(request, template_name, context, status=422 if error else 200)
