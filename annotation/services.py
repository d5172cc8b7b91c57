"""Writes of the annotation app: campaigns, their sampling design and recorded selection probabilities, claiming
work under a lease, drafts, submission, skipping, revision and adjudication. Each records an audit event; none
overwrites data silently. It is long because every write a campaign's clinicians cause shares its locking and
audit helpers here."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, Q
from django.utils import timezone

from annotation import queue
from annotation.default_rubric import install_roles_and_default_rubric
from annotation.models import (
    SCORE_MAX,
    SCORE_MIN,
    Adjudication,
    AdjudicationRevision,
    Annotation,
    AnnotationRevision,
    Assignment,
    AuditEvent,
    Campaign,
    Conversation,
    Rubric,
    RubricDimension,
    Selection,
)
from annotation.roles import Role, roles_of
from annotation.selectors import needs_adjudication
from imcbench_site import metrics

FLAG_KINDS = ("unsafe advice", "factual error", "missed red flag", "overconfidence", "hallucinated finding", "other")
CLAIM_ATTEMPTS = 20


class AnnotationError(Exception):
    """A write that cannot be done; the message says why and what to do."""


class StaleVersion(AnnotationError):
    """The annotation changed since this page loaded (another tab, another save)."""

    def __init__(self, current: Annotation):
        self.current = current
        super().__init__(
            f"This annotation was saved elsewhere (version {current.version}) after this page loaded. "
            "Nothing was overwritten: reload to see the latest version."
        )


class AlreadySubmitted(AnnotationError):
    """A save (autosave or "Save draft") on a submitted annotation: only a complete submit may change it."""

    def __init__(self, current: Annotation):
        self.current = current
        super().__init__(
            f"This annotation is submitted (version {current.version}); a save does not change it. "
            "To change it, submit the complete revision: every rule is checked again."
        )


@dataclass(frozen=True)
class AnnotationInput:
    """What a clinician entered: scores by dimension key, rationale, turn flags, active seconds since last save,
    and how the image viewer was last left (window, frame, zoom per image), when the page sent it."""

    scores: dict[str, int]
    rationale: str
    flags: list[dict]
    active_seconds: int = 0
    viewer_state: dict | None = None


def record(*, actor, action: str, target: str, **details) -> AuditEvent:
    return AuditEvent.objects.create(actor=actor, action=action, target=target, details=details)


def create_campaign(
    *,
    key: str,
    name: str,
    rubric,
    conversations: Iterable[Conversation],
    clinicians: Iterable,
    overlap: int = 2,
    blinded: bool = True,
    instructions: str = "",
    state: str = Campaign.State.OPEN,
    seed: int = 0,
    lease_minutes: int = 30,
    adjudication_threshold: int = 2,
    actor=None,
) -> Campaign:
    campaign = Campaign.objects.create(
        key=key,
        name=name,
        rubric=rubric,
        overlap=overlap,
        blinded=blinded,
        instructions=instructions,
        state=state,
        seed=seed,
        lease_minutes=lease_minutes,
        adjudication_threshold=adjudication_threshold,
        created_by=actor,
    )
    campaign.conversations.set(conversations)
    campaign.clinicians.set(clinicians)
    record(actor=actor, action="create_campaign", target=key, conversations=campaign.conversations.count())
    return campaign


def set_sampling_design(*, campaign: Campaign, design: str, tag: str = "", actor=None) -> Campaign:
    """Switch how conversations are chosen from now on (``tag``: under ``stratified``, also split the strata by
    that case tag; ignored by the other designs); probabilities already recorded stay as they were."""
    if design not in Campaign.SamplingDesign.values:
        designs = ", ".join(Campaign.SamplingDesign.values)
        raise AnnotationError(f"Unknown sampling design {design!r}: one of {designs}.")
    tags = [value for value, _ in Campaign._meta.get_field("sampling_tag").choices]
    if tag and tag not in tags:
        raise AnnotationError(f"Unknown stratification tag {tag!r}: one of {', '.join(tags)}, or none.")
    tag = tag if design == Campaign.SamplingDesign.STRATIFIED else ""
    before = {"design": campaign.sampling_design, "tag": campaign.sampling_tag}
    campaign.sampling_design, campaign.sampling_tag = design, tag
    with transaction.atomic():
        campaign.save(update_fields=["sampling_design", "sampling_tag"])
        queue.rerank(campaign=campaign)
    record(actor=actor, action="set_sampling_design", target=campaign.key, before=before, after=design, tag=tag)
    return campaign


def record_selection(
    *,
    campaign: Campaign,
    probabilities: Mapping[int, float],
    review: Iterable[int] = (),
    considered: Iterable[int] = (),
    priorities: Mapping[int, float] | None = None,
    actor=None,
) -> int:
    """Record, for each conversation id selected for clinicians, the probability it had of being selected under
    the campaign's current design (review items: 1), and in the audit event every conversation the draw
    ``considered`` (selected or not: a later batch must not draw them again, or their chance of being selected
    would no longer be the one recorded). ``priorities``: the order clinicians are served them, higher first
    (review items: their probability of being unsafe), recorded beside π; without one a conversation is served by
    its π. A conversation already recorded keeps its first record: a probability is never changed. Returns how
    many were recorded now."""
    flagged = set(review)
    members = set(campaign.conversations.filter(pk__in=list(probabilities)).values_list("pk", flat=True))
    problems = [cid for cid, p in probabilities.items() if cid not in members or not 0 < float(p) <= 1]
    if problems or not flagged <= set(probabilities) or any(float(probabilities[c]) != 1 for c in flagged):
        raise AnnotationError(
            "Every selected conversation must belong to the campaign with a probability in (0, 1], review items 1; "
            f"not so for {sorted(problems or flagged - set(probabilities))[:5]}."
        )
    known = set(Selection.objects.filter(campaign=campaign).values_list("conversation_id", flat=True))
    rows = [
        Selection(
            campaign=campaign,
            conversation_id=cid,
            probability=float(p),
            review=cid in flagged,
            priority=None if priorities is None or cid not in priorities else float(priorities[cid]),
            design=campaign.sampling_design,
        )
        for cid, p in probabilities.items()
        if cid not in known
    ]
    with transaction.atomic():
        Selection.objects.bulk_create(rows, ignore_conflicts=True)
        queue.rerank(campaign=campaign, conversation_ids=None if not known else [row.conversation_id for row in rows])
    record(
        actor=actor, action="record_selection", target=campaign.key, design=campaign.sampling_design, n=len(rows),
        considered=sorted(set(considered) | set(probabilities)),
    )  # fmt: skip
    return len(rows)


def add_conversations(*, campaign: Campaign, conversation_ids: Iterable[int], actor=None) -> int:
    """Add conversations to the campaign (those already in it stay as they are); the queue gets their entries in
    the same transaction (``annotation.queue.members_changed``). Returns how many were added."""
    ids = set(conversation_ids)
    with transaction.atomic():
        before = campaign.conversations.count()
        campaign.conversations.add(*ids)
        added = campaign.conversations.count() - before
    record(actor=actor, action="add_conversations", target=campaign.key, n=added)
    return added


def rebuild_queue(*, campaign: Campaign) -> None:
    """Recompute the campaign's whole queue: after its overlap, seed or members changed in the admin, or after
    submissions written in bulk outside these services (an import, a benchmark)."""
    with transaction.atomic():
        queue.rebuild(campaign=campaign)


def refresh_queue(*, campaign: Campaign, conversation_ids: Iterable[int]) -> None:
    """Recount the slots of these conversations after an admin changed or deleted their assignments or
    annotations."""
    with transaction.atomic():
        queue.recount(campaign=campaign, conversation_ids=conversation_ids)


def delete_annotations(*, annotations, actor=None) -> int:
    """Delete annotations (with their revisions) and recount the slots they held, in one transaction."""
    with transaction.atomic():
        rows = list(annotations.values_list("pk", "campaign_id", "conversation_id"))
        by_campaign: dict[int, set[int]] = {}
        for _, campaign_id, conversation_id in rows:
            if campaign_id is not None:
                by_campaign.setdefault(campaign_id, set()).add(conversation_id)
        Annotation.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()  # their revisions go with them
        for campaign in Campaign.objects.filter(pk__in=by_campaign):
            queue.recount(campaign=campaign, conversation_ids=by_campaign[campaign.pk])
        record(actor=actor, action="delete_annotations", target=",".join(str(pk) for pk, _, _ in rows)[:300])
    return len(rows)


def expire_leases(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Expire the campaign's lapsed leases, giving their slots back (one query when none has lapsed)."""
    now = now or timezone.now()
    lapsed = list(
        Assignment.objects.filter(
            campaign=campaign, state=Assignment.State.ACTIVE, lease_expires_at__lte=now
        ).values_list("pk", "conversation_id")
    )
    return _expire(campaign=campaign, lapsed=lapsed)


def _expire(*, campaign: Campaign, lapsed: list[tuple[int, int]]) -> int:
    """Expire these ``(assignment id, conversation id)`` leases (those still active) and recount their slots."""
    if not lapsed:
        return 0
    conversation_ids = sorted({conversation_id for _, conversation_id in lapsed})
    with transaction.atomic():
        queue.lock_all(campaign=campaign, conversation_ids=conversation_ids)
        expired = Assignment.objects.filter(pk__in=[pk for pk, _ in lapsed], state=Assignment.State.ACTIVE).update(
            state=Assignment.State.EXPIRED
        )
        queue.recount(campaign=campaign, conversation_ids=conversation_ids)
    return expired


def _standing(*, campaign: Campaign, clinician) -> tuple[bool, bool]:
    """Whether the clinician is one of the campaign's, and whether they have an unsubmitted draft in it (one
    query: a claim asks both before it looks for work)."""
    member = Campaign.clinicians.through.objects.filter(campaign_id=campaign.pk, user_id=clinician.pk)
    drafts = Annotation.objects.filter(annotator=clinician, campaign=campaign, status=Annotation.Status.DRAFT)
    found = (
        Campaign.objects.filter(pk=campaign.pk)
        .annotate(member=Exists(member), drafting=Exists(drafts))
        .order_by()
        .values_list("member", "drafting")[:1]
    )
    return next(((bool(m), bool(d)) for m, d in found), (False, False))


def claim_next(*, clinician, campaign: Campaign, now: datetime | None = None) -> Assignment | None:
    """The clinician's next conversation under a fresh lease, or ``None`` when nothing is left for them.

    Order: a conversation this clinician holds a live lease on; else one with their unsubmitted draft; else the
    conversation with the fewest taken slots, ties in a shuffled order fixed by the campaign's seed (under the
    ``active`` sampling design, targeted-review conversations first, then the higher recorded probability). The
    candidate comes from the campaign's queue index (``annotation.queue``), locked with ``SELECT ... FOR UPDATE
    SKIP LOCKED`` on PostgreSQL, so concurrent clinicians never collide, and its slots are re-read under the
    lock so no conversation is ever leased beyond its overlap. A claim runs the same seven queries whatever the
    campaign's size and fill (more only when leases lapsed, a draft waits, or a candidate was found full): one
    for membership and drafts, one for the campaign's lapsed leases and the clinician's live ones (an index of
    active leases), the candidate, its slots, and three writes.
    """
    now = now or timezone.now()
    if not campaign.is_open:
        raise AnnotationError(f"Campaign {campaign.name!r} is locked: no new work can be claimed.")
    member, drafting = _standing(campaign=campaign, clinician=clinician)
    if not member:
        raise AnnotationError(f"You are not a clinician of campaign {campaign.name!r}.")
    with transaction.atomic():
        leases = list(
            Assignment.objects.filter(campaign=campaign, state=Assignment.State.ACTIVE)
            .filter(Q(lease_expires_at__lte=now) | Q(clinician=clinician))
            .order_by("leased_at", "pk")
        )
        _expire(campaign=campaign, lapsed=[(a.pk, a.conversation_id) for a in leases if a.lease_expires_at <= now])
        held = next((a for a in leases if a.clinician_id == clinician.pk and a.lease_expires_at > now), None)
        if held is not None:
            metrics.CLAIMS.labels(outcome="resumed").inc()
            return held
        full: list[int] = []
        for _ in range(CLAIM_ATTEMPTS):
            entry = queue.next_candidate(campaign=campaign, clinician=clinician, passed=full, drafting=drafting)
            if entry is None:
                break
            taken = queue.taken_now(campaign=campaign, conversation_id=entry.conversation_id)
            entry.taken = taken if taken >= campaign.overlap else taken + 1
            entry.is_open = entry.eligible and entry.taken < campaign.overlap
            entry.save(update_fields=["taken", "is_open"])
            if taken >= campaign.overlap:
                full.append(entry.pk)
                continue
            assignment = Assignment.objects.create(
                campaign=campaign,
                conversation_id=entry.conversation_id,
                clinician=clinician,
                lease_expires_at=now + timedelta(minutes=campaign.lease_minutes),
            )
            record(actor=clinician, action="claim", target=f"{campaign.key}/{assignment.pk}")
            metrics.CLAIMS.labels(outcome="new").inc()
            return assignment
    metrics.CLAIMS.labels(outcome="none_left").inc()
    return None


def _validate(*, campaign: Campaign, data: AnnotationInput, complete: bool, turn_count: int) -> None:
    dimensions = {d.key: d for d in campaign.rubric.dimensions.all()}
    problems = []
    for key, score in data.scores.items():
        if key not in dimensions:
            problems.append(f"{key!r} is not a dimension of this rubric")
        elif isinstance(score, bool) or not isinstance(score, int) or not SCORE_MIN <= score <= SCORE_MAX:
            problems.append(f"{dimensions[key].name}: {score!r} is not a score from {SCORE_MIN} to {SCORE_MAX}")
    for flag in data.flags:
        if not 1 <= flag.get("turn", 0) <= turn_count:
            problems.append(f"A flag names turn {flag.get('turn')}, but the conversation has turns 1–{turn_count}")
        if flag.get("kind") not in FLAG_KINDS:
            problems.append(f"A flag's kind {flag.get('kind')!r} is not one of {', '.join(FLAG_KINDS)}")
    if complete:
        missing = [d.name for key, d in dimensions.items() if key not in data.scores]
        if missing:
            problems.append(f"Score every dimension before submitting (missing: {', '.join(missing)})")
        threshold = campaign.rubric.rationale_required_at_or_below
        if threshold and not data.rationale.strip() and any(s <= threshold for s in data.scores.values()):
            problems.append(f"A rationale is required when any score is {threshold} or lower")
    if problems:
        raise AnnotationError("; ".join(problems))


def _annotation_for_update(*, campaign: Campaign, conversation_id: int, clinician) -> Annotation | None:
    return (
        Annotation.objects.select_for_update()
        .filter(conversation_id=conversation_id, annotator=clinician, rubric=campaign.rubric)
        .first()
    )


def _check_can_write(assignment: Assignment, clinician) -> None:
    if assignment.clinician_id != clinician.pk:
        raise AnnotationError("This item is assigned to another clinician.")
    if not assignment.campaign.is_open:
        raise AnnotationError(f"Campaign {assignment.campaign.name!r} is locked: annotations can no longer change.")


def save_draft(
    *, assignment: Assignment, clinician, data: AnnotationInput, version: int, now: datetime | None = None
) -> Annotation:
    """Autosave. ``version`` is the version the page last saw (0 for none); a newer one raises StaleVersion.

    Drafts only: a submitted annotation is what the API and the statistics read, so a save on one (even while it
    is being revised) raises AlreadySubmitted and changes nothing; a revision replaces it through ``submit``.
    """
    now = now or timezone.now()
    _check_can_write(assignment, clinician)
    campaign = assignment.campaign
    with transaction.atomic():
        turn_count = assignment.conversation.turns.count()
        _validate(campaign=campaign, data=data, complete=False, turn_count=turn_count)
        annotation = _annotation_for_update(
            campaign=campaign, conversation_id=assignment.conversation_id, clinician=clinician
        )
        if annotation is None:
            if version != 0:
                raise AnnotationError("The draft this page was editing no longer exists; reload the page.")
            annotation = Annotation(
                conversation_id=assignment.conversation_id,
                annotator=clinician,
                rubric=campaign.rubric,
                campaign=campaign,
                version=0,
            )
        elif annotation.status == Annotation.Status.SUBMITTED:
            raise AlreadySubmitted(annotation)
        elif annotation.version != version:
            raise StaleVersion(annotation)
        annotation.scores, annotation.rationale, annotation.flags = data.scores, data.rationale, data.flags
        annotation.active_seconds += max(0, min(data.active_seconds, 3600))
        _keep_viewer_state(annotation, data)
        annotation.version += 1
        annotation.save()
        if assignment.state == Assignment.State.ACTIVE:
            Assignment.objects.filter(pk=assignment.pk).update(
                lease_expires_at=now + timedelta(minutes=campaign.lease_minutes)
            )
    metrics.AUTOSAVES.inc()
    return annotation


def _keep_viewer_state(annotation: Annotation, data: AnnotationInput) -> None:
    """Record the viewer's state with the time on task it was reached at."""
    if data.viewer_state is not None:
        annotation.viewer_state = {**data.viewer_state, "active_seconds": annotation.active_seconds}


def _keep_revision(annotation: Annotation, actor) -> None:
    AnnotationRevision.objects.create(
        annotation=annotation,
        version=annotation.version,
        status=annotation.status,
        scores=annotation.scores,
        rationale=annotation.rationale,
        flags=annotation.flags,
        saved_by=actor,
    )


def submit(*, assignment: Assignment, clinician, data: AnnotationInput, version: int) -> Annotation:
    """Check completeness and the overlap, then submit (or re-submit a revision); the assignment is done."""
    _check_can_write(assignment, clinician)
    campaign = assignment.campaign
    with transaction.atomic():
        queue.lock(campaign=campaign, conversation_id=assignment.conversation_id)
        turn_count = assignment.conversation.turns.count()
        _validate(campaign=campaign, data=data, complete=True, turn_count=turn_count)
        annotation = _annotation_for_update(
            campaign=campaign, conversation_id=assignment.conversation_id, clinician=clinician
        )
        if annotation is not None and annotation.version != version:
            raise StaleVersion(annotation)
        already = annotation is not None and annotation.status == Annotation.Status.SUBMITTED
        if not already:
            others = (
                Annotation.objects.filter(
                    campaign=campaign, conversation_id=assignment.conversation_id, status=Annotation.Status.SUBMITTED
                )
                .exclude(annotator=clinician)
                .count()
            )
            if others >= campaign.overlap:
                raise AnnotationError(
                    f"This conversation already has its {campaign.overlap} annotations (your lease had expired). "
                    "Your draft is kept; take the next item."
                )
        if annotation is None:
            annotation = Annotation(
                conversation_id=assignment.conversation_id,
                annotator=clinician,
                rubric=campaign.rubric,
                campaign=campaign,
                version=0,
            )
        annotation.scores, annotation.rationale, annotation.flags = data.scores, data.rationale, data.flags
        annotation.active_seconds += max(0, min(data.active_seconds, 3600))
        _keep_viewer_state(annotation, data)
        annotation.status = Annotation.Status.SUBMITTED
        annotation.submitted_at = annotation.submitted_at or timezone.now()
        annotation.version += 1
        annotation.save()
        _keep_revision(annotation, clinician)
        Assignment.objects.filter(pk=assignment.pk).update(state=Assignment.State.SUBMITTED)
        queue.recount(campaign=campaign, conversation_ids=[assignment.conversation_id])
        record(
            actor=clinician,
            action="revise" if already else "submit",
            target=f"{campaign.key}/{assignment.pk}",
            version=annotation.version,
        )
    metrics.SUBMISSIONS.labels(kind="revision" if already else "first").inc()
    return annotation


def skip(*, assignment: Assignment, clinician, reason: str) -> Assignment:
    _check_can_write(assignment, clinician)
    if not reason.strip():
        raise AnnotationError("Say why you skip this item (e.g. image does not load, outside my expertise).")
    if assignment.state != Assignment.State.ACTIVE:
        raise AnnotationError("Only an item you are working on can be skipped.")
    with transaction.atomic():
        queue.lock(campaign=assignment.campaign, conversation_id=assignment.conversation_id)
        assignment.state, assignment.skip_reason = Assignment.State.SKIPPED, reason.strip()
        assignment.save(update_fields=["state", "skip_reason"])
        queue.recount(campaign=assignment.campaign, conversation_ids=[assignment.conversation_id])
    record(actor=clinician, action="skip", target=f"{assignment.campaign.key}/{assignment.pk}", reason=reason)
    return assignment


def reopen(*, annotation: Annotation, clinician, now: datetime | None = None) -> Assignment:
    """A lease on a conversation the clinician submitted, to revise it while the campaign is open.

    At most one active assignment per clinician and conversation: an active one is handed back with a fresh lease
    (any older duplicates are expired). The conversation row is locked first, as ``submit`` and ``claim_next`` do,
    so two revise requests at once cannot both create one.
    """
    now = now or timezone.now()
    campaign = annotation.campaign
    if annotation.annotator_id != clinician.pk or campaign is None:
        raise AnnotationError("You can only revise your own annotations of a campaign.")
    if not campaign.is_open:
        raise AnnotationError(f"Campaign {campaign.name!r} is locked: annotations can no longer change.")
    lease_expires_at = now + timedelta(minutes=campaign.lease_minutes)
    with transaction.atomic():
        queue.lock(campaign=campaign, conversation_id=annotation.conversation_id)
        active = Assignment.objects.select_for_update().filter(
            campaign=campaign,
            conversation_id=annotation.conversation_id,
            clinician=clinician,
            state=Assignment.State.ACTIVE,
        )
        held = active.order_by("leased_at", "pk").first()
        if held is not None:
            active.exclude(pk=held.pk).update(state=Assignment.State.EXPIRED)
            held.lease_expires_at = lease_expires_at
            held.save(update_fields=["lease_expires_at"])
            queue.recount(campaign=campaign, conversation_ids=[annotation.conversation_id])
            return held
        assignment = Assignment.objects.create(
            campaign=campaign,
            conversation_id=annotation.conversation_id,
            clinician=clinician,
            lease_expires_at=lease_expires_at,
        )
        queue.recount(campaign=campaign, conversation_ids=[annotation.conversation_id])
        record(actor=clinician, action="reopen", target=f"{campaign.key}/{assignment.pk}", version=annotation.version)
    return assignment


class StaleDecision(AnnotationError):
    """The adjudication changed since this page loaded: another decision was recorded meanwhile."""

    def __init__(self, current: Adjudication):
        self.current = current
        super().__init__(
            f"Another decision was recorded (version {current.version}) after this page loaded. "
            "Nothing was overwritten: reload to see it, then record yours again."
        )


def adjudicate(
    *,
    campaign: Campaign,
    conversation: Conversation,
    adjudicator,
    scores: dict,
    note: str,
    version: int = 0,
    override: bool = False,
) -> Adjudication:
    """Final scores for a conversation the campaign's rule sends to adjudication (``needs_adjudication``).

    The adjudicated scores replace the clinicians' mean as the calibration target, so a conversation the clinicians
    agree on (or that lacks its annotations) is refused; only an admin may decide otherwise, with ``override=True``,
    and that decision is recorded as its own audit event. ``version`` is the decision the page showed (0 for
    none): a later decision replaces the current one only from that version, and every decision is kept as an
    ``AdjudicationRevision``.
    """
    data = AnnotationInput(scores=scores, rationale=note, flags=[])
    _validate(campaign=campaign, data=data, complete=True, turn_count=conversation.turns.count())
    if not note.strip():
        raise AnnotationError("Write a note explaining the final scores.")
    disputed = needs_adjudication(campaign=campaign, conversation_ids=[conversation.pk])
    if override and Role.ADMIN not in roles_of(adjudicator):
        raise AnnotationError("Only an admin can adjudicate a conversation the campaign's rule does not dispute.")
    if not disputed and not override:
        raise AnnotationError(
            f"This conversation is not in adjudication: its submitted scores do not differ by "
            f"{campaign.adjudication_threshold} or more on any dimension. Nothing was recorded."
        )
    with transaction.atomic():
        adjudication = (
            Adjudication.objects.select_for_update().filter(campaign=campaign, conversation=conversation).first()
        )
        if adjudication is None and version != 0:
            raise AnnotationError("The decision this page showed no longer exists; reload the page.")
        if adjudication is not None and adjudication.version != version:
            raise StaleDecision(adjudication)
        if adjudication is None:
            adjudication = Adjudication(campaign=campaign, conversation=conversation, version=0)
        adjudication.adjudicator, adjudication.scores, adjudication.note = adjudicator, scores, note
        adjudication.version += 1
        adjudication.save()
        AdjudicationRevision.objects.create(
            adjudication=adjudication, version=adjudication.version, scores=scores, note=note, adjudicator=adjudicator
        )
        target = f"{campaign.key}/{conversation.key}"
        if not disputed:
            record(actor=adjudicator, action="adjudicate_override", target=target, scores=scores, note=note)
        record(actor=adjudicator, action="adjudicate", target=target, scores=scores, version=adjudication.version)
    return adjudication


def ensure_roles_and_default_rubric() -> None:
    """The role groups and the default IMCBench rubric, as migration 0002 installs them (idempotent)."""
    install_roles_and_default_rubric(group_model=Group, rubric_model=Rubric, dimension_model=RubricDimension)


def expire_stale_leases(*, now: datetime | None = None) -> int:
    """Expire every open campaign's lapsed leases (``expire_leases`` for each), so progress pages count them as free
    even when no clinician claims anything. Returns how many assignments expired."""
    now = now or timezone.now()
    return sum(
        expire_leases(campaign=campaign, now=now) for campaign in Campaign.objects.filter(state=Campaign.State.OPEN)
    )
