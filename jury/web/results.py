"""Calibration and leaderboard pages for researchers: the jury calibrated against one campaign's clinicians.

Each report takes seconds to compute the first time its inputs are seen and is then cached (``jury.results.reports``),
its rendered HTML too. A browser's first visit gets the page at once with a progress state, and htmx asks the same URL
for the report, which is computed in that request; a client that is not a browser navigating (a script, the test
client), or a browser without JavaScript following the page's link, gets the full page in one response.
"""

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Campaign
from annotation.roles import Action, action_required
from imcbench_site.http import HtmxHttpRequest
from jury.models import CalibrationArtifact
from jury.results import reports
from jury.results.calibration import save_calibration
from jury.results.inference import LABELS
from jury.results.planning import campaign_planning
from jury.results.review import review_list

PAGES = {
    "calibration": {
        "template": "jury/results/calibration.html",
        "progress": "Cross-validating every calibration method on the campaign’s clinician-scored conversations",
    },
    "leaderboard": {
        "template": "jury/results/leaderboard.html",
        "progress": "Bootstrapping the leaderboard over cases, with the calibration refitted in every resample",
    },
}


def _campaign(key: str) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("rubric"), key=key)


def _first_visit_in_a_browser(request: HtmxHttpRequest) -> bool:
    """A browser navigating to the page (not htmx, not a script), whose JavaScript will fetch the report."""
    return not request.htmx and request.headers.get("Sec-Fetch-Dest") == "document" and "now" not in request.GET


def _results_page(request: HtmxHttpRequest, campaign: Campaign, kind: str, live: dict) -> HttpResponse:
    """The page of one report: from the cached HTML, with a progress state, or computed now (see the module)."""
    page = PAGES[kind]
    artifact = reports.latest_artifact(campaign=campaign) if kind == "leaderboard" else None
    fingerprint = reports.inputs_hash(campaign=campaign, artifact=artifact)
    html_key = f"{kind}-html:{campaign.pk}:{fingerprint}"
    body = cache.get(html_key)
    context = {"campaign": campaign, "progress": page["progress"], **live}
    if body is None and _first_visit_in_a_browser(request):
        return render(request, page["template"], context | {"pending": True})
    if body is None:
        compute = reports.calibration_report if kind == "calibration" else reports.leaderboard_report
        report = compute(campaign=campaign, fingerprint=fingerprint)
        body = {
            "html": render_to_string(page["template"] + "#report", context | report, request=request),
            "problem": report["problem"],
        }
        cache.set(html_key, body, reports.CACHE_SECONDS)
    context |= {"report_html": body["html"], "problem": body["problem"]}
    return render(request, page["template"] + ("#body" if request.htmx else ""), context)


MAX_HALF_WIDTH = 5.0  # the scores run 1–5: no interval is wider


@require_GET
@action_required(Action.SEE_RESULTS)
def calibration_page(request: HtmxHttpRequest, key: str) -> HttpResponse:
    campaign = _campaign(key)
    saved = CalibrationArtifact.objects.filter(campaign=campaign).select_related("created_by")
    return _results_page(request, campaign, "calibration", {"saved": saved})


@require_GET
@action_required(Action.SEE_RESULTS)
def leaderboard_page(request: HtmxHttpRequest, key: str) -> HttpResponse:
    return _results_page(request, _campaign(key), "leaderboard", {"estimator_labels": LABELS})


@require_POST
@action_required(Action.PUBLISH_RESULTS)
def save_calibration_view(request: HtmxHttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, key=key)
    result, problem = reports.cached_calibration(campaign=campaign)
    if result is None:
        messages.error(request, problem)
        return redirect("results:calibration", key=campaign.key)
    try:
        artifact, created = save_calibration(campaign=campaign, actor=request.user, result=result)
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


@require_GET
@action_required(Action.SEE_RESULTS)
def review_panel(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """The campaign's targeted-review conversations, a page at a time; the full page, or its panel for htmx."""
    campaign = get_object_or_404(Campaign, key=key)
    context = {"campaign": campaign} | review_list(campaign=campaign, page=request.GET.get("page"))
    template_name = "jury/results/review.html"
    if request.htmx:
        template_name += "#panel"
    return render(request, template_name, context)
