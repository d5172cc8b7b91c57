"""The clinician workspace: claim the next item, score it (autosaved drafts, a last save when the page is left),
submit, skip, revise, and see a submitted item read-only."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import selectors, services
from annotation.models import Annotation, Assignment, Campaign
from annotation.roles import Role, role_required
from annotation.services import FLAG_KINDS, AlreadySubmitted, AnnotationError, AnnotationInput, StaleVersion
from annotation.web.scores import parse_turn, posted_version, scores_from
from annotation.web.transcript import turn_rows
from annotation.web.viewer_state import parse_viewer_state
from imcbench_site.http import HtmxHttpRequest


def _open_campaign_for(request: HttpRequest, key: str) -> Campaign:
    return get_object_or_404(Campaign, key=key, clinicians=request.user)


@require_GET
@role_required(Role.CLINICIAN)
def my_queue(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/queue.html", {"rows": selectors.clinician_queue(clinician=request.user)})


@require_http_methods(["GET", "POST"])
@role_required(Role.CLINICIAN)
def claim(request: HttpRequest, key: str) -> HttpResponse:
    """GET shows the button; POST claims the clinician's next item (a live lease of theirs is handed back first)."""
    campaign = _open_campaign_for(request, key)
    if request.method == "GET":
        return render(request, "annotation/claim.html", {"campaign": campaign})
    return _claim_next(request, campaign)


def _claim_next(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    try:
        assignment = services.claim_next(clinician=request.user, campaign=campaign)
    except AnnotationError as error:
        messages.error(request, str(error))
        return redirect("my-queue")
    if assignment is None:
        messages.success(request, f"Nothing left for you in {campaign.name}. Thank you!")
        return redirect("my-queue")
    return redirect("workspace", assignment_id=assignment.pk)


def _input_from(request: HttpRequest, dimensions: list[tuple[str, str]]) -> AnnotationInput:
    scores = scores_from(request.POST, dimensions)
    flags = []
    turns, kinds, notes = (request.POST.getlist(name) for name in ("flag_turn", "flag_kind", "flag_note"))
    for turn, kind, note in zip(turns, kinds, notes, strict=False):
        if not turn and not note:
            continue
        flags.append({"turn": parse_turn(turn), "kind": kind, "note": note.strip()})
    try:
        active = int(request.POST.get("active_seconds") or 0)
    except ValueError:
        active = 0
    return AnnotationInput(
        scores=scores,
        rationale=request.POST.get("rationale", ""),
        flags=flags,
        active_seconds=active,
        viewer_state=parse_viewer_state(request.POST.get("viewer_state", "")),
    )


def _workspace_context(*, campaign: Campaign, conversation, annotation: Annotation | None, progress: dict) -> dict:
    dimensions = list(campaign.rubric.dimensions.all())
    scores = annotation.scores if annotation else {}
    flags = annotation.flags if annotation else []
    unscored = [d.key for d in dimensions if d.key not in scores]
    return {
        "annotation": annotation,
        "campaign": campaign,
        "conversation": conversation,
        "case": conversation.case,
        "turns": turn_rows(list(conversation.turns.all()), flags),
        "images": list(conversation.case.images.all()),
        "dimensions": [
            {"dimension": d, "score": scores.get(d.key), "anchors": sorted(d.anchors.items())} for d in dimensions
        ],
        "first_unscored": unscored[0] if unscored else "",
        "flags": flags,
        "flag_kinds": FLAG_KINDS,
        "version": annotation.version if annotation else 0,
        "progress": progress,
    }


@require_GET
@role_required(Role.CLINICIAN)
def workspace(request: HttpRequest, assignment_id: int) -> HttpResponse:
    try:
        found = selectors.workspace(assignment_id=assignment_id, clinician=request.user)
    except Assignment.DoesNotExist:
        raise Http404("No such item for you.") from None
    assignment, annotation = found["assignment"], found["annotation"]
    context = _workspace_context(
        campaign=assignment.campaign,
        conversation=assignment.conversation,
        annotation=annotation,
        progress=found["progress"],
    )
    context |= {
        "assignment": assignment,
        "writable": assignment.state == Assignment.State.ACTIVE and assignment.campaign.is_open,
        # A submitted annotation changes only by a complete submit: its revision page has no drafts to autosave.
        "revising": annotation is not None and annotation.status == Annotation.Status.SUBMITTED,
    }
    return render(request, "annotation/workspace.html", context)


@require_GET
@role_required(Role.CLINICIAN)
def submitted_annotation(request: HttpRequest, annotation_id: int) -> HttpResponse:
    """A submitted annotation of the clinician's, read-only, with a way to revise it while the campaign is open."""
    try:
        annotation = selectors.submitted_annotation(annotation_id=annotation_id, clinician=request.user)
    except Annotation.DoesNotExist:
        raise Http404("No such submitted annotation of yours.") from None
    context = _workspace_context(
        campaign=annotation.campaign,
        conversation=annotation.conversation,
        annotation=annotation,
        progress=selectors.workspace_progress(clinician=request.user, campaign=annotation.campaign),
    )
    context |= {"writable": False, "read_only": True}
    return render(request, "annotation/workspace.html", context)


@require_POST
@role_required(Role.CLINICIAN)
def workspace_save(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    """Autosave (htmx: answers with the save-status partial) or the plain form's save / submit / skip."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("campaign", "campaign__rubric", "conversation"),
        pk=assignment_id,
        clinician=request.user,
    )
    action = request.POST.get("action", "save")
    dimensions = list(assignment.campaign.rubric.dimensions.values_list("key", "name"))
    status = 200
    try:
        if action == "skip":
            services.skip(assignment=assignment, clinician=request.user, reason=request.POST.get("skip_reason", ""))
            messages.info(request, "Skipped; the item goes back to the pool for others.")
            return _claim_next(request, assignment.campaign)
        data, version = _input_from(request, dimensions), posted_version(request.POST)
        if action == "submit":
            services.submit(assignment=assignment, clinician=request.user, data=data, version=version)
            messages.success(request, "Submitted. Here is your next item.")
            return _claim_next(request, assignment.campaign)
        annotation = services.save_draft(assignment=assignment, clinician=request.user, data=data, version=version)
        context = {"state": "saved", "version": annotation.version, "message": "Saved"}
        saved_at = timezone.localtime(annotation.updated_at)
    except (StaleVersion, AlreadySubmitted) as error:
        status = 409
        context = {"state": "conflict", "version": error.current.version, "message": str(error)}
    except AnnotationError as error:
        status = 422
        context = {"state": "error", "version": posted_version(request.POST), "message": str(error)}
    if request.POST.get("transport") == "beacon":
        # The page is being left (navigator.sendBeacon): nobody reads an answer, so none carries a message.
        return HttpResponse(status=204 if status == 200 else status)
    if request.htmx:
        if status == 200:
            context["saved_at"] = saved_at
        response = render(request, "annotation/workspace.html#save-status", context, status=status)
        if status == 200:
            response["X-Annotation-Version"] = str(context["version"])
        return response
    messages.add_message(request, messages.SUCCESS if status == 200 else messages.ERROR, context["message"])
    return redirect("workspace", assignment_id=assignment.pk)


@require_POST
@role_required(Role.CLINICIAN)
def revise(request: HttpRequest, annotation_id: int) -> HttpResponse:
    annotation = get_object_or_404(Annotation, pk=annotation_id, annotator=request.user)
    try:
        assignment = services.reopen(annotation=annotation, clinician=request.user)
    except AnnotationError as error:
        messages.error(request, str(error))
        return redirect(reverse("my-queue"))
    return redirect("workspace", assignment_id=assignment.pk)
