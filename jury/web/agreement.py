"""The campaign agreement report: the page, its JSON and CSV downloads, and its SVG plots (admins, researchers)."""

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.models import Campaign
from annotation.roles import Action, action_required
from jury.results import agreement as agreement_report


def _campaign(key: str) -> Campaign:
    try:
        return agreement_report.campaign_for_report(key=key)
    except Campaign.DoesNotExist:
        raise Http404(f"No campaign {key!r}.") from None


@require_GET
@action_required(Action.SEE_RESULTS)
def agreement_index(request: HttpRequest) -> HttpResponse:
    campaigns = agreement_report.campaigns_with_annotation_counts()
    return render(request, "jury/agreement/index.html", {"campaigns": campaigns})


@require_GET
@action_required(Action.SEE_RESULTS)
def campaign_agreement(request: HttpRequest, key: str) -> HttpResponse:
    campaign = _campaign(key)
    report = agreement_report.agreement_report(campaign=campaign)
    context = {
        "campaign": campaign,
        "report": report,
        "dimensions": agreement_report.page_dimensions(report),
        "too_thin": agreement_report.too_thin(report=report, campaign=campaign),
    }
    return render(request, "jury/agreement/campaign_agreement.html", context)


@require_GET
@action_required(Action.SEE_RESULTS)
def campaign_agreement_json(request: HttpRequest, key: str) -> JsonResponse:
    report = agreement_report.agreement_report(campaign=_campaign(key))
    response = JsonResponse(report, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = f'attachment; filename="{key}-agreement.json"'
    return response


@require_GET
@action_required(Action.SEE_RESULTS)
def campaign_agreement_csv(request: HttpRequest, key: str) -> HttpResponse:
    report = agreement_report.agreement_report(campaign=_campaign(key))
    response = HttpResponse(agreement_report.report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{key}-agreement.csv"'
    return response


@require_GET
@action_required(Action.SEE_RESULTS)
def campaign_agreement_plot(request: HttpRequest, key: str, plot: str, dimension: str) -> HttpResponse:
    svg = agreement_report.plot_svg(campaign=_campaign(key), plot=plot, dimension=dimension)
    if svg is None:
        raise Http404(f"No plot {plot!r} of dimension {dimension!r}.")
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=300"
    return response
