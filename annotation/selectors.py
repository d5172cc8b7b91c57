"""Reads: what pages and the API show."""

import re
from collections.abc import Iterable

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from annotation.models import (
    Adjudication,
    AdjudicationRevision,
    Annotation,
    Assignment,
    AuditEvent,
    Campaign,
    Case,
    Conversation,
    Image,
    QueueEntry,
    QueueSize,
    RubricDimension,
    Selection,
    Turn,
)
from annotation.roles import Role, roles_of


def case_with_everything(*, key: str) -> Case:
    """One case with its images, profile and conversations (model, turn count) in a fixed number of queries."""
    conversations = Conversation.objects.select_related("model").annotate(turn_count=Count("turns"))
    return (
        Case.objects.select_related("profile", "bundle")
        .prefetch_related("images", Prefetch("conversations", queryset=conversations))
        .get(key=key)
    )


def case_list(*, search: str = "") -> QuerySet[Case]:
    cases = Case.objects.annotate(conversation_count=Count("conversations")).prefetch_related("images")
    if search:
        cases = cases.filter(
            Q(key__icontains=search)
            | Q(title__icontains=search)
            | Q(specialty__icontains=search)
            | Q(diagnosis__icontains=search)
            | Q(modality__icontains=search)
        )
    return cases.order_by("key")


def conversation_with_turns(*, key: str) -> Conversation:
    return (
        Conversation.objects.select_related("case", "model", "case__profile")
        .prefetch_related(Prefetch("turns", queryset=Turn.objects.order_by("index")), "case__images")
        .get(key=key)
    )


def workspace(*, assignment_id: int, clinician) -> dict:
    """Everything the workspace page shows, in a fixed number of queries whatever the turns, images, dimensions,
    and the campaign's size: the clinician's progress comes with the assignment (their submissions counted from an
    index of them, the campaign's conversations from its queue size)."""

    done = (
        Annotation.objects.filter(
            campaign=OuterRef("campaign"), annotator=clinician, status=Annotation.Status.SUBMITTED
        )
        .order_by()
        .values("campaign")
        .annotate(n=Count("*"))  # not the ids: the count reads the index alone
        .values("n")
    )
    assignment = (
        Assignment.objects.select_related(
            "campaign",
            "campaign__rubric",
            "campaign__queue_size",
            "conversation",
            "conversation__case",
            "conversation__case__profile",
        )
        .prefetch_related(
            Prefetch("conversation__turns", queryset=Turn.objects.order_by("index")),
            "conversation__case__images",
            Prefetch("campaign__rubric__dimensions", queryset=RubricDimension.objects.order_by("position")),
        )
        .annotate(done=Coalesce(Subquery(done), 0))
        .get(pk=assignment_id, clinician=clinician)
    )
    annotation = (
        Annotation.objects.filter(
            conversation_id=assignment.conversation_id, annotator=clinician, rubric_id=assignment.campaign.rubric_id
        )
        .order_by("pk")  # at most one (a unique constraint): no ordering joins
        .first()
    )
    size = getattr(assignment.campaign, "queue_size", None)
    total = size.conversations if size is not None else _queue_size(assignment.campaign)
    return {"assignment": assignment, "annotation": annotation, "progress": {"done": assignment.done, "total": total}}


def workspace_progress(*, clinician, campaign: Campaign) -> dict:
    """How far the clinician is in the campaign: their submitted annotations out of its conversations."""
    done = Annotation.objects.filter(campaign=campaign, annotator=clinician, status=Annotation.Status.SUBMITTED)
    return {"done": done.count(), "total": _queue_size(campaign)}


def _queue_size(campaign: Campaign) -> int:
    """How many conversations the campaign's queue holds: its size row (``annotation.queue`` keeps it), or a count
    of its entries for a campaign that never had a conversation, hence no row."""
    stored = QueueSize.objects.filter(campaign=campaign).values_list("conversations", flat=True).first()
    return stored if stored is not None else QueueEntry.objects.filter(campaign=campaign).count()


def submitted_annotation(*, annotation_id: int, clinician) -> Annotation:
    """One of the clinician's own submitted annotations, with what its read-only page shows."""
    return (
        Annotation.objects.select_related("campaign", "campaign__rubric", "conversation", "conversation__case")
        .annotate(submissions=Count("revisions"))
        .get(pk=annotation_id, annotator=clinician, status=Annotation.Status.SUBMITTED, campaign__isnull=False)
    )


def clinician_queue(*, clinician) -> list[dict]:
    """Per open campaign of the clinician: submitted, in progress, remaining for them."""

    rows = []
    for campaign in Campaign.objects.filter(clinicians=clinician).select_related("rubric").order_by("name"):
        total = campaign.conversations.count()
        done = Annotation.objects.filter(
            campaign=campaign, annotator=clinician, status=Annotation.Status.SUBMITTED
        ).count()
        in_progress = Assignment.objects.filter(
            campaign=campaign, clinician=clinician, state=Assignment.State.ACTIVE
        ).count()
        submitted = (
            Annotation.objects.filter(campaign=campaign, annotator=clinician, status=Annotation.Status.SUBMITTED)
            .select_related("conversation__case")
            .annotate(submissions=Count("revisions"))
            .order_by("-submitted_at")[:20]
        )
        rows.append(
            {"campaign": campaign, "total": total, "done": done, "in_progress": in_progress, "submitted": submitted}
        )
    return rows


def my_annotations(*, clinician, campaign) -> QuerySet:

    return Annotation.objects.filter(campaign=campaign, annotator=clinician).order_by("-updated_at")


def campaign_progress(*, campaign) -> dict:
    """Coverage per conversation, per-clinician counts and median active time, adjudication backlog.

    ``filled`` counts the submitted annotations up to the overlap k of each conversation, out of ``target`` =
    conversations × k; ``beyond_overlap`` the others (an imported bundle may hold more than k per conversation).
    Active time is recorded by the workspace only: annotations with none (imported ones) are left out of the
    median, which is None when no annotation of the clinician has any.
    """
    from statistics import median

    conversation_ids = list(campaign.conversations.values_list("pk", flat=True))
    submitted = Annotation.objects.filter(campaign=campaign, status=Annotation.Status.SUBMITTED)
    per_conversation = dict(submitted.values("conversation").annotate(n=Count("pk")).values_list("conversation", "n"))
    coverage = [0] * (campaign.overlap + 1)
    for conversation_id in conversation_ids:
        coverage[min(per_conversation.get(conversation_id, 0), campaign.overlap)] += 1
    times: dict[int, list[int]] = {}
    counts: dict[int, int] = {}
    for annotator_id, seconds in submitted.values_list("annotator_id", "active_seconds"):
        counts[annotator_id] = counts.get(annotator_id, 0) + 1
        if seconds:
            times.setdefault(annotator_id, []).append(seconds)
    active = dict(
        Assignment.objects.filter(campaign=campaign, state=Assignment.State.ACTIVE)
        .values("clinician")
        .annotate(n=Count("pk"))
        .values_list("clinician", "n")
    )
    skipped = dict(
        Assignment.objects.filter(campaign=campaign, state=Assignment.State.SKIPPED)
        .values("clinician")
        .annotate(n=Count("pk"))
        .values_list("clinician", "n")
    )
    clinicians = [
        {
            "clinician": clinician,
            "submitted": counts.get(clinician.pk, 0),
            "in_progress": active.get(clinician.pk, 0),
            "skipped": skipped.get(clinician.pk, 0),
            "median_active_seconds": round(median(times[clinician.pk])) if times.get(clinician.pk) else None,
        }
        for clinician in campaign.clinicians.order_by("username")
    ]
    disputed = needs_adjudication(campaign=campaign)
    adjudicated = set(
        Adjudication.objects.filter(campaign=campaign, conversation_id__in=disputed).values_list(
            "conversation_id", flat=True
        )
    )
    total = len(conversation_ids)
    filled = sum(min(per_conversation.get(pk, 0), campaign.overlap) for pk in conversation_ids)
    return {
        "campaign": campaign,
        "total": total,
        "complete": coverage[campaign.overlap],
        "coverage": [{"submissions": n, "conversations": count} for n, count in enumerate(coverage)],
        "annotations": sum(per_conversation.values()),
        "filled": filled,
        "beyond_overlap": sum(per_conversation.values()) - filled,
        "target": total * campaign.overlap,
        "clinicians": clinicians,
        "in_adjudication": len(set(disputed) - adjudicated),
        "adjudicated": len(adjudicated),
    }


def adjudication_queue(*, campaign: Campaign) -> dict:
    """The conversations the campaign's rule sends to adjudication, largest disagreement first.

    Each row names the disputed dimensions with the clinicians' scores and spread (highest minus lowest score),
    the number of submitted annotations, and the recorded decision if there is one. Rows are sorted by the largest
    spread, then by conversation id, so the order never changes between two visits with the same scores. Nothing
    in a row names the model, its family or the condition.
    """
    scores = _submitted_scores(campaign=campaign)
    disputed = _disputed(campaign=campaign, scores=scores)
    names = dict(campaign.rubric.dimensions.order_by("position").values_list("key", "name"))
    position = {key: index for index, key in enumerate(names)}
    decisions = {
        a.conversation_id: a
        for a in Adjudication.objects.filter(campaign=campaign, conversation_id__in=disputed).select_related(
            "adjudicator"
        )
    }
    counts = dict(
        Annotation.objects.filter(campaign=campaign, status=Annotation.Status.SUBMITTED, conversation_id__in=disputed)
        .values("conversation")
        .annotate(n=Count("pk"))
        .values_list("conversation", "n")
    )
    rows = []
    for conversation_id in disputed:
        dimensions = [
            {"key": key, "name": names.get(key, key), "scores": sorted(values), "spread": max(values) - min(values)}
            for (cid, key), values in scores.items()
            if cid == conversation_id and max(values) - min(values) >= campaign.adjudication_threshold
        ]
        dimensions.sort(key=lambda d: (-d["spread"], position.get(d["key"], len(position))))
        rows.append(
            {
                "conversation_id": conversation_id,
                "dimensions": dimensions,
                "spread": dimensions[0]["spread"],
                "count": counts.get(conversation_id, 0),
                "decision": decisions.get(conversation_id),
            }
        )
    rows.sort(key=lambda row: (-row["spread"], row["conversation_id"]))
    pending = [row for row in rows if row["decision"] is None]
    return {
        "pending": pending,
        "decided": [row for row in rows if row["decision"] is not None],
        "total": len(rows),
        "done": len(rows) - len(pending),
    }


def adjudication_record(*, campaign: Campaign, conversation_id: int) -> Adjudication | None:
    """The decision recorded for a conversation, with every earlier version (newest first) prefetched."""
    return (
        Adjudication.objects.filter(campaign=campaign, conversation_id=conversation_id)
        .select_related("adjudicator")
        .prefetch_related(Prefetch("revisions", queryset=AdjudicationRevision.objects.select_related("adjudicator")))
        .first()
    )


def _submitted_scores(*, campaign: Campaign, conversation_ids: Iterable[int] | None = None) -> dict:
    submitted = Annotation.objects.filter(campaign=campaign, status=Annotation.Status.SUBMITTED)
    if conversation_ids is not None:
        submitted = submitted.filter(conversation_id__in=list(conversation_ids))
    scores: dict[tuple[int, str], list[int]] = {}
    for conversation_id, annotation_scores in submitted.values_list("conversation_id", "scores"):
        for key, score in annotation_scores.items():
            scores.setdefault((conversation_id, key), []).append(score)
    return scores


def _disputed(*, campaign: Campaign, scores: dict) -> list[int]:
    threshold = campaign.adjudication_threshold
    return sorted({cid for (cid, _), values in scores.items() if max(values) - min(values) >= threshold})


def needs_adjudication(*, campaign: Campaign, conversation_ids: Iterable[int] | None = None) -> list[int]:
    """Conversation ids whose submitted scores on some dimension differ by at least the campaign's threshold
    (among ``conversation_ids`` when given)."""
    return _disputed(campaign=campaign, scores=_submitted_scores(campaign=campaign, conversation_ids=conversation_ids))


TILE_NAME = re.compile(r"(?P<base>images/tiles/[0-9a-f]{2}/[0-9a-f]{64})_files/\d{1,2}/\d{1,4}_\d{1,4}\.jpg")


def images_storing(*, name: str) -> list[Image]:
    """The images whose web derivative, original, de-identified DICOM copy or Deep Zoom descriptor is stored
    exactly under ``name``, or whose pyramid holds the tile ``name`` (files are content-addressed: one file may
    belong to several cases)."""
    stored = Q(derivative=name) | Q(original=name) | Q(web_dicom=name) | Q(tiles=name)
    if match := TILE_NAME.fullmatch(name):
        stored |= Q(tiles=f"{match['base']}.dzi")
    return list(Image.objects.filter(stored))


def may_see_a_case(*, user, case_ids: set[int]) -> bool:
    """Whether the user may see one of these cases. Admins and researchers see every case; an adjudicator the
    cases of conversations in a campaign (what they may adjudicate); a clinician only the cases of conversations
    they were handed in a campaign."""
    roles = roles_of(user)
    if roles & {Role.ADMIN, Role.RESEARCHER}:
        return True
    if (
        Role.ADJUDICATOR in roles
        and Conversation.objects.filter(case_id__in=case_ids, campaigns__isnull=False).exists()
    ):
        return True
    if Role.CLINICIAN in roles:
        return Assignment.objects.filter(clinician=user, conversation__case_id__in=case_ids).exists()
    return False


def selection_summary(*, campaign: Campaign) -> dict:
    """How many selection probabilities the campaign has recorded, per design, and how many are review items."""
    rows = (
        Selection.objects.filter(campaign=campaign)
        .values("design")
        .annotate(n=Count("pk"), review=Count("pk", filter=Q(review=True)))
    )
    by_design = {row["design"]: row["n"] for row in rows}
    return {"recorded": sum(by_design.values()), "by_design": by_design, "review": sum(r["review"] for r in rows)}


def considered_conversations(*, campaign: Campaign) -> set[int]:
    """Every conversation an earlier draw of the campaign's selection considered, selected or not."""
    events = AuditEvent.objects.filter(action="record_selection", target=campaign.key).values_list("details", flat=True)
    seen = {int(cid) for details in events for cid in (details or {}).get("considered", [])}
    return seen | set(Selection.objects.filter(campaign=campaign).values_list("conversation_id", flat=True))


def selection_probabilities(*, campaign: Campaign) -> dict[int, float]:
    """Conversation id -> the probability recorded when it was selected for the campaign's clinicians."""
    return dict(Selection.objects.filter(campaign=campaign).values_list("conversation_id", "probability"))
