"""A campaign's queue (``QueueEntry``, one row per campaign × conversation): how many of each conversation's k slots
are taken and its rank, so ``claim_next`` reads the next candidate from one scan of the ``queue_next`` index
whatever the campaign's size and fill.

A slot is taken by each clinician who submitted the conversation in the campaign or holds an active lease on it
(a clinician revising their own submission takes no second slot). The rank is: fewest slots taken, then (active
design) the targeted-review conversations, then the priority recorded with the selection (review items: their
probability of being unsafe, most likely unsafe first; the others: their selection probability, which grows with
the jury's expected error), then a shuffle fixed by the campaign's seed. A
conversation a design left out once it selected is not ``eligible``. The write services call these functions
inside their own transaction; the claim re-reads a candidate's slots under its row lock, so the overlap holds
even if a write bypassed them.
"""

import operator
from collections.abc import Iterable
from functools import reduce

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest
from django.db.models.lookups import Exact, LessThan

from annotation.models import (
    QUEUE_RANK,
    Annotation,
    Assignment,
    Campaign,
    Conversation,
    QueueEntry,
    QueueSize,
    Selection,
)

TIE_BREAK_MULTIPLIER = 2654435761  # Knuth's multiplicative hash: a fixed shuffle of ids, seeded per campaign
TIE_BREAK_MODULUS = 4294967291
BATCH = 5000


def shuffle_of(conversation_id: int, seed: int) -> int:
    return ((conversation_id + seed) * TIE_BREAK_MULTIPLIER) % TIE_BREAK_MODULUS


def _entries(campaign: Campaign, conversation_ids: Iterable[int] | None):
    entries = QueueEntry.objects.filter(campaign=campaign)
    return entries if conversation_ids is None else entries.filter(conversation_id__in=list(conversation_ids))


def _taken_expression(campaign: Campaign):
    """Per entry: clinicians with a submission in the campaign, plus clinicians with an active lease and none."""
    submitted = Annotation.objects.filter(
        campaign=campaign, conversation=OuterRef("conversation"), status=Annotation.Status.SUBMITTED
    )
    own = Annotation.objects.filter(
        campaign=campaign,
        conversation=OuterRef("conversation"),
        annotator=OuterRef("clinician"),
        status=Annotation.Status.SUBMITTED,
    )
    leased = Assignment.objects.filter(
        campaign=campaign, conversation=OuterRef("conversation"), state=Assignment.State.ACTIVE
    ).exclude(Exists(own))

    def count(rows, field: str):
        counted = rows.order_by().values("conversation").annotate(n=Count(field, distinct=True)).values("n")
        return Coalesce(Subquery(counted), 0)

    return count(submitted, "annotator") + count(leased, "clinician")


def recount(*, campaign: Campaign, conversation_ids: Iterable[int] | None = None) -> int:
    """Recount the taken slots of these conversations (all the campaign's when None) from the submissions and
    active leases, and whether each is open. One UPDATE, which writes only the entries whose count or openness
    changed (a submission that turns a lease into an annotation changes neither); returns the entries written."""
    taken = _taken_expression(campaign)
    is_open = Case(When(Q(eligible=True) & LessThan(taken, campaign.overlap), then=True), default=False)
    values = {"taken": taken, "is_open": is_open}
    return _entries(campaign, conversation_ids).filter(_any_differs(values)).update(**values)


def rerank(*, campaign: Campaign, conversation_ids: Iterable[int] | None = None) -> int:
    """Recompute eligibility and rank from the campaign's design, recorded selections and seed, writing only the
    entries whose eligibility, rank or openness changed; returns how many had their eligibility or rank written."""
    selected = Selection.objects.filter(campaign=campaign, conversation=OuterRef("conversation"))
    active = campaign.sampling_design == Campaign.SamplingDesign.ACTIVE
    eligible = Exists(selected) if Selection.objects.filter(campaign=campaign).exists() else Value(True)
    rank = {
        "eligible": ExpressionWrapper(eligible, output_field=BooleanField()),
        "review": Exists(selected.filter(review=True)) if active else Value(False),
        "priority": Coalesce(
            Subquery(selected.values("priority")[:1]), Subquery(selected.values("probability")[:1]), 0.0
        )
        if active
        else Value(0.0),
        "shuffle": ((F("conversation_id") + campaign.seed) * TIE_BREAK_MULTIPLIER) % TIE_BREAK_MODULUS,
    }
    entries = _entries(campaign, conversation_ids)
    written = entries.filter(_any_differs(rank)).update(**rank)
    is_open = ExpressionWrapper(Q(eligible=True) & Q(taken__lt=campaign.overlap), output_field=BooleanField())
    entries.filter(_any_differs({"is_open": is_open})).update(is_open=is_open)
    return written


def _any_differs(values: dict) -> Q:
    """Rows where any of these fields differs from the value an UPDATE would write: the others need no write,
    which would leave a dead row version and new index entries behind for nothing."""
    return reduce(operator.or_, (~Q(Exact(F(field), value)) for field, value in values.items()))


def add(*, campaign: Campaign, conversation_ids: Iterable[int]) -> None:
    """Entries for conversations added to the campaign (existing ones are left as they are), counted and ranked;
    the counting and ranking queries run only for conversations that have something to count or rank."""
    ids = sorted(set(conversation_ids))
    selected = Selection.objects.filter(campaign=campaign).exists()
    added = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        present = QueueEntry.objects.filter(campaign=campaign, conversation_id__in=chunk).count()
        rows = [
            QueueEntry(campaign=campaign, conversation_id=pk, shuffle=shuffle_of(pk, campaign.seed)) for pk in chunk
        ]
        QueueEntry.objects.bulk_create(rows, ignore_conflicts=True)
        added += len(chunk) - present
        if selected:  # else the defaults are the rank: eligible, no review, no priority
            rerank(campaign=campaign, conversation_ids=chunk)
        members = {"campaign": campaign, "conversation_id__in": chunk}
        submitted = Annotation.objects.filter(**members, status=Annotation.Status.SUBMITTED)
        if submitted.exists() or Assignment.objects.filter(**members, state=Assignment.State.ACTIVE).exists():
            recount(campaign=campaign, conversation_ids=chunk)
    resize(campaign_ids=[campaign.pk], by=added)


def resize(*, campaign_ids: Iterable[int], by: int) -> None:
    """Move these campaigns' queue sizes by ``by`` entries (one UPDATE); a campaign without its size row gets one,
    counted from its entries (which already hold the change)."""
    ids = set(campaign_ids)
    if not by or not ids:
        return
    sizes = QueueSize.objects.filter(campaign_id__in=ids)
    if sizes.update(conversations=Greatest(F("conversations") + by, 0)) < len(ids):
        for campaign_id in ids - set(sizes.values_list("campaign_id", flat=True)):
            count_size(campaign_id=campaign_id)


def count_size(*, campaign_id: int) -> int:
    """Set the campaign's queue size from a count of its entries and return it."""
    n = QueueEntry.objects.filter(campaign_id=campaign_id).count()
    QueueSize.objects.update_or_create(campaign_id=campaign_id, defaults={"conversations": n})
    return n


def rebuild(*, campaign: Campaign) -> None:
    """The campaign's whole queue again: an entry for every member conversation and none other, every count and
    rank recomputed (after a change of overlap, seed or members, or writes made outside the services)."""
    through = Campaign.conversations.through.objects.filter(campaign=campaign)
    members = set(through.values_list("conversation_id", flat=True))
    present = set(QueueEntry.objects.filter(campaign=campaign).values_list("conversation_id", flat=True))
    gone = present - members
    for start in range(0, len(gone), BATCH):
        QueueEntry.objects.filter(campaign=campaign, conversation_id__in=sorted(gone)[start : start + BATCH]).delete()
    QueueEntry.objects.bulk_create(
        (
            QueueEntry(campaign=campaign, conversation_id=pk, shuffle=shuffle_of(pk, campaign.seed))
            for pk in sorted(members - present)
        ),
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    QueueSize.objects.update_or_create(campaign=campaign, defaults={"conversations": len(members)})
    rerank(campaign=campaign)
    recount(campaign=campaign)


def members_changed(*, instance, action: str, reverse: bool, pk_set, **_) -> None:
    """``m2m_changed`` of ``Campaign.conversations``: every way of adding or removing members keeps the queue."""
    if action == "post_add" and pk_set:
        if reverse:
            for campaign in Campaign.objects.filter(pk__in=pk_set):
                add(campaign=campaign, conversation_ids=[instance.pk])
        else:
            add(campaign=instance, conversation_ids=pk_set)
    elif action == "post_remove" and pk_set:
        pairs = {"campaign_id__in": pk_set, "conversation": instance} if reverse else {"campaign": instance}
        _remove(QueueEntry.objects.filter(**pairs, **({} if reverse else {"conversation_id__in": pk_set})))
    elif action == "pre_clear":
        _remove(QueueEntry.objects.filter(**({"conversation": instance} if reverse else {"campaign": instance})))


def conversation_deleted(*, instance, **_) -> None:
    """``pre_delete`` of a conversation: its entries go with it (a cascade), so its campaigns' sizes shrink."""
    _remove(QueueEntry.objects.filter(conversation=instance))


def _remove(entries) -> None:
    """Delete these entries and shrink their campaigns' queue sizes by as many."""
    by_campaign = dict(entries.order_by().values("campaign_id").annotate(n=Count("pk")).values_list("campaign_id", "n"))
    entries.delete()
    for n in set(by_campaign.values()):
        resize(campaign_ids=[c for c, removed in by_campaign.items() if removed == n], by=-n)


def lock(*, campaign: Campaign, conversation_id: int) -> QueueEntry | None:
    """Lock the conversation's entry (``SELECT ... FOR UPDATE``) before changing its slots; a conversation no
    longer in the campaign has none, and its row is locked instead. Every write locks this row first, so two
    writes on one conversation never wait on each other in opposite orders."""
    entry = QueueEntry.objects.select_for_update().filter(campaign=campaign, conversation_id=conversation_id).first()
    if entry is None:
        Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    return entry


def lock_all(*, campaign: Campaign, conversation_ids: Iterable[int]) -> None:
    """Lock several entries, in one order (their ids), as ``lock`` does one."""
    entries = _entries(campaign, conversation_ids).select_for_update()
    list(entries.order_by("pk").values_list("pk", flat=True))


def taken_now(*, campaign: Campaign, conversation_id: int) -> int:
    """The slots of one conversation counted from the submissions and active leases themselves (one query)."""
    submitted = Annotation.objects.filter(
        campaign=campaign, conversation_id=conversation_id, status=Annotation.Status.SUBMITTED
    ).values_list("annotator_id")
    leased = Assignment.objects.filter(
        campaign=campaign, conversation_id=conversation_id, state=Assignment.State.ACTIVE
    ).values_list("clinician_id")
    return submitted.order_by().union(leased.order_by()).order_by().count()


def next_candidate(
    *, campaign: Campaign, clinician, passed: Iterable[int] = (), drafting: bool = True
) -> QueueEntry | None:
    """The clinician's best entry, locked: first one holding their unsubmitted draft, else the first open entry in
    rank order they have neither submitted (under the campaign's rubric) nor skipped. ``passed``: entry ids found
    full in this claim; ``drafting=False`` (the caller found the clinician has no draft in the campaign) skips the
    look for a draft's entry. On PostgreSQL the row is taken ``FOR UPDATE SKIP LOCKED``, so concurrent claims pass over
    each other's rows; the exclusions are indexed ``NOT EXISTS`` probes of the rows the index scan reaches."""
    skipped = Assignment.objects.filter(
        campaign=campaign, conversation=OuterRef("conversation"), clinician=clinician, state=Assignment.State.SKIPPED
    )
    entries = QueueEntry.objects.filter(campaign=campaign).exclude(pk__in=list(passed)).exclude(Exists(skipped))
    if connection.features.has_select_for_update_skip_locked:
        entries = entries.select_for_update(skip_locked=True, of=("self",))
    if drafting:
        drafts = Annotation.objects.filter(
            annotator=clinician,
            campaign=campaign,
            status=Annotation.Status.DRAFT,
            conversation=OuterRef("conversation"),
        )
        draft = entries.filter(Exists(drafts)).order_by("conversation_id").first()
        if draft is not None:
            return draft
    done = Annotation.objects.filter(
        conversation=OuterRef("conversation"),
        annotator=clinician,
        rubric_id=campaign.rubric_id,
        status=Annotation.Status.SUBMITTED,
    )
    return entries.filter(is_open=True).exclude(Exists(done)).order_by(*QUEUE_RANK).first()
