"""Download endpoints: judgements, clinician annotations and calibrated scores, streamed as CSV, JSONL, Parquet."""

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from annotation.models import Annotation, Campaign
from annotation.roles import Role, role_required

from . import exports
from .calibration_service import calibrate_campaign, calibrated_scores, dimensions_of

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def export_rows(*, kind: str, campaign_key: str | None):
    """Columns, rows and provenance of one export kind (``judgements``, ``annotations`` or ``scores``)."""
    campaign = get_object_or_404(Campaign, key=campaign_key) if campaign_key else None
    if kind == "judgements":
        columns, rows = exports.judgement_rows()
        return columns, rows, exports.provenance(kind=kind)
    if kind == "annotations":
        queryset = Annotation.objects.filter(status=Annotation.Status.SUBMITTED)
        if campaign is not None:
            queryset = queryset.filter(campaign=campaign)
        columns, rows = exports.annotation_rows(queryset)
        return columns, rows, exports.provenance(kind=kind, campaign=campaign_key)
    if kind == "scores":
        if campaign is None:
            raise ValueError("calibrated scores need ?campaign=<key>: the campaign whose clinicians calibrate the jury")
        result = calibrate_campaign(campaign=campaign)
        dimensions = dimensions_of(campaign)
        scores = calibrated_scores(fitted={d: r.calibration for d, r in result.reports.items()})
        columns, rows = exports.score_rows(scores=scores, dimensions=dimensions)
        meta = exports.provenance(
            kind=kind,
            calibration_campaign=campaign.key,
            calibration_inputs_hash=result.inputs_hash,
            methods={d: r.chosen for d, r in result.reports.items()},
            judges=sorted({j for r in result.reports.values() for j in r.calibration.judges}),
        )
        return columns, rows, meta
    raise Http404(f"No export {kind!r}")


@require_GET
@role_required(Role.RESEARCHER, Role.ADMIN)
def download(request: HttpRequest, kind: str, fmt: str) -> StreamingHttpResponse:
    if fmt not in exports.FORMATS:
        raise Http404(f"No format {fmt!r}")
    try:
        columns, rows, meta = export_rows(kind=kind, campaign_key=request.GET.get("campaign"))
    except ValueError as error:
        from django.http import HttpResponseBadRequest

        return HttpResponseBadRequest(str(error))
    response = StreamingHttpResponse(exports.stream(fmt, columns, rows, meta), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="imcbench-{kind}.{fmt}"'
    return response
