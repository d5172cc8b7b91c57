"""Admins follow campaigns; adjudicators resolve disagreements."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import selectors, services
from annotation.models import Annotation, Campaign, Conversation
from annotation.roles import Role, role_required, roles_of
from annotation.services import AnnotationError, StaleDecision
from annotation.web.scores import posted_version, scores_from
from annotation.web.transcript import turn_rows
from imcbench_site.http import HtmxHttpRequest


@require_GET
@role_required(Role.ADMIN, Role.RESEARCHER, Role.ADJUDICATOR)
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.select_related("rubric").order_by("-created_at")
    return render(request, "annotation/campaign_list.html", {"campaigns": campaigns})


def _design_context(campaign: Campaign) -> dict:
    return {
        "designs": Campaign.SamplingDesign.choices,
        "tags": Campaign._meta.get_field("sampling_tag").choices,
        "selections": selectors.selection_summary(campaign=campaign),
    }


@require_GET
@role_required(Role.ADMIN, Role.RESEARCHER)
def campaign_progress(request: HtmxHttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, key=key)
    template_name = "annotation/campaign_progress.html"
    if request.htmx:
        template_name += "#progress"
    context = selectors.campaign_progress(campaign=campaign) | _design_context(campaign)
    return render(request, template_name, context)


@require_POST
@role_required(Role.ADMIN, Role.RESEARCHER)
def campaign_design(request: HttpRequest, key: str) -> HttpResponse:
    """Choose the campaign's sampling design; a bad choice is a 422 naming the field, and changes nothing."""
    campaign = get_object_or_404(Campaign, key=key)
    try:
        services.set_sampling_design(
            campaign=campaign,
            design=request.POST.get("design", ""),
            tag=request.POST.get("tag", ""),
            actor=request.user,
        )
    except AnnotationError as failure:
        campaign.refresh_from_db()
        context = selectors.campaign_progress(campaign=campaign) | _design_context(campaign)
        context["design_error"] = f"design: {failure}"
        return render(request, "annotation/campaign_progress.html", context, status=422)
    messages.success(request, f"Sampling design set to {campaign.get_sampling_design_display()}; "
                     "probabilities already recorded are unchanged.")  # fmt: skip
    return redirect("campaign-progress", key=campaign.key)


@require_GET
@role_required(Role.ADJUDICATOR)
def adjudication_queue(request: HttpRequest, key: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), key=key)
    queue = selectors.adjudication_queue(campaign=campaign)
    return render(request, "annotation/adjudication_queue.html", {"campaign": campaign, "queue": queue})


@require_http_methods(["GET", "POST"])
@role_required(Role.ADJUDICATOR)
def adjudicate(request: HttpRequest, key: str, conversation_id: int) -> HttpResponse:
    """The adjudication form beside the workspace's panes; a recorded decision is shown, editable, with its
    history (every version kept)."""
    campaign = get_object_or_404(Campaign.objects.select_related("rubric"), key=key)
    conversation = get_object_or_404(
        Conversation.objects.select_related("case", "case__profile", "model"),
        pk=conversation_id,
        campaigns=campaign,
    )
    dimensions = list(campaign.rubric.dimensions.order_by("position"))
    decision = selectors.adjudication_record(campaign=campaign, conversation_id=conversation.pk)
    error, status = None, 200
    if request.method == "POST":
        try:
            scores = scores_from(request.POST, [(d.key, d.name) for d in dimensions])
            services.adjudicate(
                campaign=campaign,
                conversation=conversation,
                adjudicator=request.user,
                scores=scores,
                note=request.POST.get("note", ""),
                version=posted_version(request.POST),
                override=request.POST.get("override") == "on",
            )
        except StaleDecision as failure:
            error, status = str(failure), 409
        except AnnotationError as failure:
            error, status = str(failure), 422
        else:
            messages.success(request, "Adjudication recorded; the clinicians' annotations are unchanged.")
            return redirect("adjudication-queue", key=campaign.key)
    if request.method == "POST":
        chosen = {d.key: request.POST.get(f"score-{d.key}", "") for d in dimensions}
        note = request.POST.get("note", "")
    else:
        chosen = {d.key: str(decision.scores.get(d.key, "")) if decision else "" for d in dimensions}
        note = decision.note if decision else ""
    context = _form_context(
        campaign=campaign, conversation=conversation, dimensions=dimensions, decision=decision, chosen=chosen
    )
    context |= {
        "note": note,
        "may_override": Role.ADMIN in roles_of(request.user),
        "error": error,
    }
    return render(request, "annotation/adjudicate.html", context, status=status)


def _form_context(*, campaign: Campaign, conversation: Conversation, dimensions: list, decision, chosen: dict) -> dict:
    """The panes, each clinician's scores, and each anchor with the clinicians who chose it and whether the form
    has it chosen (``chosen``: dimension key -> posted or recorded score)."""
    annotations = list(
        Annotation.objects.filter(campaign=campaign, conversation=conversation, status=Annotation.Status.SUBMITTED)
        .select_related("annotator")
        .order_by("annotator__username")
    )
    flags = [flag | {"by": a.annotator.get_username()} for a in annotations for flag in a.flags]
    rows = [
        {
            "dimension": d,
            "anchors": [
                {
                    "score": score,
                    "anchor": anchor,
                    "chosen": chosen[d.key] == str(score),
                    "by": [a.annotator.get_username() for a in annotations if a.scores.get(d.key) == score],
                }
                for score, anchor in sorted(d.anchors.items())
            ],
            "clinician_scores": [a.scores.get(d.key) for a in annotations],
        }
        for d in dimensions
    ]
    return {
        "campaign": campaign,
        "conversation": conversation,
        "case": conversation.case,
        "turns": turn_rows(list(conversation.turns.order_by("index")), flags),
        "images": list(conversation.case.images.all()),
        "rows": rows,
        "annotations": annotations,
        "decision": decision,
        "history": [
            {"revision": r, "scores": [(d.name, r.scores.get(d.key)) for d in dimensions]}
            for r in (decision.revisions.all() if decision else [])
        ],
        "version": decision.version if decision else 0,
        "disputed": bool(selectors.needs_adjudication(campaign=campaign, conversation_ids=[conversation.pk])),
    }
