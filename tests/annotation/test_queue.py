"""A campaign's queue (``annotation.queue``): claiming runs the same queries whatever the campaign's size and fill,
and after every write path the queue equals a recount from the submissions, leases and selections themselves."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation import queue, selectors, services
from annotation.models import Annotation, Assignment, Campaign, Conversation, QueueEntry, QueueSize, Rubric, Selection
from annotation.services import AnnotationError, AnnotationInput
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db

FULL = {"safety": 4, "accuracy": 3, "uncertainty": 5}
LOW = {"safety": 1, "accuracy": 3, "uncertainty": 5}


def recounted(campaign: Campaign) -> dict[int, tuple]:
    """What every entry must hold, from the source rows: (taken, eligible, open, review, priority, shuffle)."""
    campaign.refresh_from_db()
    holders: dict[int, set[int]] = {}
    submitted = Annotation.objects.filter(campaign=campaign, status=Annotation.Status.SUBMITTED)
    leased = Assignment.objects.filter(campaign=campaign, state=Assignment.State.ACTIVE)
    for rows in (
        submitted.values_list("conversation_id", "annotator_id"),
        leased.values_list("conversation_id", "clinician_id"),
    ):
        for conversation_id, clinician_id in rows:
            holders.setdefault(conversation_id, set()).add(clinician_id)
    selected = {s.conversation_id: s for s in Selection.objects.filter(campaign=campaign)}
    active = campaign.sampling_design == Campaign.SamplingDesign.ACTIVE
    expected = {}
    for conversation_id in campaign.conversations.values_list("pk", flat=True):
        taken, chosen = len(holders.get(conversation_id, ())), selected.get(conversation_id)
        eligible = not selected or chosen is not None
        expected[conversation_id] = (
            taken,
            eligible,
            eligible and taken < campaign.overlap,
            bool(active and chosen and chosen.review),
            chosen.probability if active and chosen else 0.0,
            queue.shuffle_of(conversation_id, campaign.seed),
        )
    return expected


def stored(campaign: Campaign) -> dict[int, tuple]:
    fields = ("taken", "eligible", "is_open", "review", "priority", "shuffle")
    return {
        row[0]: row[1:] for row in QueueEntry.objects.filter(campaign=campaign).values_list("conversation", *fields)
    }


def make_campaign(clinicians, *, key="queue", conversations=4, overlap=3, **options) -> Campaign:
    return services.create_campaign(
        key=key,
        name=key,
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(conversations)],
        clinicians=clinicians,
        overlap=overlap,
        **options,
    )


def claim_queries(*, size: int, filled: bool, design: str) -> int:
    """Queries of one claim by a fresh clinician in a campaign of ``size`` conversations, k = 3, each with 2 of 3
    slots submitted by others when ``filled``; under ``active`` a tenth of them recorded for review."""
    others = [UserFactory(roles=["clinician"]) for _ in range(2)]
    clinician = UserFactory(roles=["clinician"])
    campaign = make_campaign([clinician, *others], key=f"q-{size}-{filled}-{design}", conversations=size)
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    if design == "active":
        services.set_sampling_design(campaign=campaign, design=design)
        services.record_selection(
            campaign=campaign, probabilities={cid: 1.0 for cid in ids}, review=[cid for cid in ids[::10]]
        )
    if filled:
        Annotation.objects.bulk_create(
            Annotation(
                conversation_id=cid,
                annotator=other,
                rubric=campaign.rubric,
                campaign=campaign,
                status="submitted",
                scores=FULL,
            )
            for cid in ids
            for other in others
        )
        services.rebuild_queue(campaign=campaign)
    with CaptureQueriesContext(connection) as queries:
        assignment = services.claim_next(clinician=clinician, campaign=campaign)
    assert assignment is not None
    if design == "active":
        assert assignment.conversation_id in ids[::10]
    return len(queries)


@pytest.mark.parametrize("design", ["uniform", "active"])
def test_a_claim_runs_the_same_queries_whatever_the_campaign_size_and_fill(design):
    counts = {
        (size, filled): claim_queries(size=size, filled=filled, design=design)
        for size in (10, 200)
        for filled in (False, True)
    }
    assert len(set(counts.values())) == 1, counts
    assert counts[(10, False)] <= 9  # seven queries and the savepoint pair


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "claim",
                "claim",
                "submit",
                "submit",
                "skip",
                "draft",
                "expire",
                "reopen",
                "delete",
                "adjudicate",
                "add",
                "remove",
                "overlap",
                "seed",
                "select",
                "design",
            ]
        ),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=25,
)
RUNS = iter(range(10**6))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_the_queue_equals_a_recount_after_every_write_path(carmen, chidi, adele, ada, operations):
    clinicians = [carmen, chidi, adele]
    campaign = make_campaign(clinicians, key=f"prop-{next(RUNS)}", conversations=4, overlap=2)
    clock = timezone.now()
    for operation, n in operations:
        clinician = clinicians[n]
        held = Assignment.objects.filter(campaign=campaign, clinician=clinician, state="active").first()
        mine = Annotation.objects.filter(campaign=campaign, annotator=clinician, status="submitted").first()
        try:
            if operation == "claim":
                assignment = services.claim_next(clinician=clinician, campaign=campaign, now=clock)
                if assignment is not None and assignment != held:
                    done = Annotation.objects.filter(annotator=clinician, status="submitted")
                    skipped = Assignment.objects.filter(campaign=campaign, clinician=clinician, state="skipped")
                    assert not done.filter(conversation_id=assignment.conversation_id).exists()
                    assert not skipped.filter(conversation_id=assignment.conversation_id).exists()
            elif operation == "submit" and held:
                version = (
                    Annotation.objects.filter(conversation=held.conversation, annotator=clinician)
                    .values_list("version", flat=True)
                    .first()
                    or 0
                )
                scores = LOW if n == 1 else FULL
                services.submit(
                    assignment=held,
                    clinician=clinician,
                    version=version,
                    data=AnnotationInput(scores=scores, rationale="why", flags=[]),
                )
            elif operation == "skip" and held:
                services.skip(assignment=held, clinician=clinician, reason="outside my expertise")
            elif operation == "draft" and held:
                services.save_draft(
                    assignment=held,
                    clinician=clinician,
                    version=0,
                    now=clock,
                    data=AnnotationInput(scores={"safety": 3}, rationale="", flags=[]),
                )
            elif operation == "expire":
                clock += timedelta(minutes=campaign.lease_minutes + 1)
                services.expire_leases(campaign=campaign, now=clock)
            elif operation == "reopen" and mine:
                services.reopen(annotation=mine, clinician=clinician, now=clock)
            elif operation == "delete" and mine:
                services.delete_annotations(annotations=Annotation.objects.filter(pk=mine.pk), actor=ada)
            elif operation == "adjudicate":
                disputed = selectors.needs_adjudication(campaign=campaign)
                if disputed:
                    services.adjudicate(
                        campaign=campaign,
                        conversation=campaign.conversations.get(pk=disputed[0]),
                        adjudicator=adele,
                        scores=FULL,
                        note="resolved",
                    )
            elif operation == "add":
                services.add_conversations(campaign=campaign, conversation_ids=[ConversationFactory().pk])
            elif operation == "remove":
                campaign.conversations.remove(campaign.conversations.order_by("pk")[n % 2])
            elif operation == "overlap":
                campaign.overlap = n + 1
                campaign.save(update_fields=["overlap"])
                services.rebuild_queue(campaign=campaign)
            elif operation == "seed":
                campaign.seed = campaign.seed + n + 1
                campaign.save(update_fields=["seed"])
                services.rebuild_queue(campaign=campaign)
            elif operation == "select":
                ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))[n:]
                services.record_selection(
                    campaign=campaign,
                    probabilities={cid: 1.0 if i == 0 else 0.5 for i, cid in enumerate(ids)},
                    review=ids[:1],
                )
            elif operation == "design":
                services.set_sampling_design(campaign=campaign, design=Campaign.SamplingDesign.values[n])
        except AnnotationError:
            pass  # a refused write (a stale version, a full conversation) changes nothing
        assert stored(campaign) == recounted(campaign), operation
        assert QueueSize.objects.get(campaign=campaign).conversations == campaign.conversations.count(), operation


def test_the_migration_fills_the_queue_of_existing_campaigns(carmen, chidi):
    campaign = make_campaign([carmen, chidi], conversations=5, overlap=2, seed=3)
    services.set_sampling_design(campaign=campaign, design="active")
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    services.record_selection(campaign=campaign, probabilities={ids[0]: 1.0, ids[1]: 0.4, ids[2]: 0.3}, review=ids[:1])
    first = services.claim_next(clinician=carmen, campaign=campaign)
    services.submit(
        assignment=first, clinician=carmen, version=0, data=AnnotationInput(scores=FULL, rationale="", flags=[])
    )
    services.claim_next(clinician=chidi, campaign=campaign)
    services.claim_next(clinician=carmen, campaign=campaign)
    before = stored(campaign)
    QueueEntry.objects.all().delete()
    importlib.import_module("annotation.migrations.0009_campaign_queue").fill_queues(apps, None)
    assert stored(campaign) == before == recounted(campaign)
    assert before[ids[0]][:4] == (1, True, True, True) and not before[ids[3]][1]


def test_the_queue_size_follows_every_way_members_come_and_go(carmen):
    campaign = make_campaign([carmen], conversations=3)
    other = make_campaign([carmen], key="other", conversations=1)
    size = lambda c: QueueSize.objects.get(campaign=c).conversations  # noqa: E731
    assert (size(campaign), size(other)) == (3, 1)
    joining = ConversationFactory()
    joining.campaigns.add(campaign, other)  # from the conversation's side
    campaign.conversations.add(joining)  # already a member: nothing changes
    assert (size(campaign), size(other)) == (4, 2)
    joining.campaigns.remove(other)
    assert (size(campaign), size(other)) == (4, 1)
    leaving = ConversationFactory()
    campaign.conversations.add(leaving)
    Conversation.objects.filter(pk=leaving.pk).delete()
    assert size(campaign) == 4 == campaign.conversations.count()
    QueueSize.objects.filter(campaign=campaign).delete()  # a campaign without its row gets it back, counted
    campaign.conversations.add(ConversationFactory())
    assert size(campaign) == 5
    joining.campaigns.add(other)
    campaign.conversations.clear()
    joining.campaigns.clear()
    assert (size(campaign), size(other)) == (0, 1)


def test_the_migration_counts_the_queue_of_existing_campaigns(carmen):
    campaign = make_campaign([carmen], conversations=5)
    QueueSize.objects.all().delete()
    importlib.import_module("annotation.migrations.0012_queue_size_and_claim_indexes").count_queues(apps, None)
    assert QueueSize.objects.get(campaign=campaign).conversations == 5
