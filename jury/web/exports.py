"""Exports for researchers: direct downloads for small exports, and the exports page for background jobs.

``/exports/<kind>.<format>`` streams judgements, clinician annotations or calibrated scores as CSV, JSONL or
Parquet in the response. ``/exports/`` lists background export jobs with live progress (htmx polling) and
starts new ones; a finished job's file is served at ``/exports/jobs/<id>/download``.
"""

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Campaign
from annotation.roles import Action, action_required
from imcbench_site.http import HtmxHttpRequest
from jury import selectors
from jury.models import ExportJob
from jury.results import exports
from jury.results.export_jobs import start_export_job

DIRECT_DOWNLOAD_MAX_ROWS = 100_000  # above this the page offers only background exports
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def export_rows(*, kind: str, campaign_key: str | None):
    """Columns, rows and provenance of one export kind (for ``manage.py export_scores``)."""
    source = exports.export_source(kind=kind, campaign_key=campaign_key)
    return source.columns, source.rows, source.meta


@require_GET
@action_required(Action.EXPORT)
def download(request: HttpRequest, kind: str, fmt: str) -> StreamingHttpResponse:
    if fmt not in exports.FORMATS:
        raise Http404(f"No format {fmt!r}")
    try:
        source = exports.export_source(kind=kind, campaign_key=request.GET.get("campaign"))
    except exports.ExportNotFound as error:
        raise Http404(str(error)) from None
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    body = exports.stream(fmt, source.columns, source.rows, source.meta)
    response = StreamingHttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="imcbench-{kind}.{fmt}"'
    return response


@require_GET
@action_required(Action.EXPORT)
def export_page(request: HtmxHttpRequest) -> HttpResponse:
    template_name = "jury/exports/page.html"
    if request.htmx:
        template_name += "#export-jobs"
    counts = selectors.export_row_counts()
    kinds = [
        {
            "kind": kind,
            "label": label,
            "rows": counts[kind],
            "small": counts[kind] <= DIRECT_DOWNLOAD_MAX_ROWS,
            "campaign": {"scores": "required", "annotations": "optional"}.get(kind),
        }
        for kind, label in ExportJob.Kind.choices
    ]
    jobs = list(selectors.export_jobs())
    score_campaigns, unready_campaigns = exports.score_campaigns()
    context = {
        "score_campaigns": score_campaigns,
        "unready_campaigns": unready_campaigns,
        "kinds": kinds,
        "formats": ExportJob.Format.choices,
        "campaigns": Campaign.objects.order_by("key").values_list("key", "name"),
        "jobs": jobs,
        "any_active": any(job.is_active for job in jobs),
        "direct_max": f"{DIRECT_DOWNLOAD_MAX_ROWS:,}",
    }
    return render(request, template_name, context)


@require_POST
@action_required(Action.EXPORT)
def start_export(request: HttpRequest) -> HttpResponse:
    try:
        job = start_export_job(
            kind=request.POST.get("kind", ""),
            fmt=request.POST.get("format", ""),
            campaign_key=request.POST.get("campaign") or None,
            user=request.user,
        )
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("exports:page")
    job.refresh_from_db()
    if job.status == ExportJob.Status.DONE:
        messages.success(request, f"Export {job.pk} is ready: {job.rows_written:,} rows.")
    elif job.status == ExportJob.Status.FAILED:
        messages.error(request, f"Export {job.pk} failed: {job.error}")
    else:
        messages.info(request, f"Export {job.pk} started; its progress shows below.")
    return redirect("exports:page")


@require_GET
@action_required(Action.EXPORT)
def job_download(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(ExportJob, pk=pk, status=ExportJob.Status.DONE)
    if not job.file or not job.file.storage.exists(job.file.name):
        raise Http404("The export's file is no longer on disk.")
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=f"imcbench-{job.kind}-{job.pk}.{job.format}",
        content_type=CONTENT_TYPES[job.format],
    )
