"""Five clinicians claim and submit at once on PostgreSQL (row locks with SKIP LOCKED on the queue's entries), under
the uniform and the active order: every conversation ends with exactly k annotations, none by the same clinician
twice, none lost, the queue equal to a recount, and under active the review conversations handed out first."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from annotation import services
from annotation.models import Annotation, Assignment, Rubric
from annotation.services import AnnotationInput
from tests.annotation.test_queue import recounted, stored
from tests.conftest import missing
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.services


@pytest.mark.parametrize("design", ["uniform", "active"])
@pytest.mark.django_db(transaction=True)
def test_five_clinicians_in_threads_fill_every_conversation_exactly_k_times(design):
    if connection.vendor != "postgresql":
        missing("PostgreSQL via DATABASE_URL")
    clinicians = [UserFactory(username=f"clinician{i}", roles=["clinician"]) for i in range(5)]
    campaign = services.create_campaign(
        key="race",
        name="Race",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(60)],
        clinicians=clinicians,
        overlap=3,
    )
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    review = set(ids[::3])
    if design == "active":
        services.set_sampling_design(campaign=campaign, design=design)
        services.record_selection(
            campaign=campaign, probabilities={cid: 1.0 if cid in review else 0.5 for cid in ids}, review=review
        )
    errors: list[BaseException] = []
    start = threading.Barrier(len(clinicians))

    def work(clinician) -> None:
        try:
            start.wait()
            while assignment := services.claim_next(clinician=clinician, campaign=campaign):
                services.submit(
                    assignment=assignment,
                    clinician=clinician,
                    version=0,
                    data=AnnotationInput(scores={"safety": 4, "accuracy": 4, "uncertainty": 4}, rationale="", flags=[]),
                )
        except BaseException as error:  # noqa: BLE001 — reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(c,)) for c in clinicians]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    submitted = Annotation.objects.filter(campaign=campaign, status="submitted")
    per_conversation = Counter(submitted.values_list("conversation_id", flat=True))
    assert len(per_conversation) == 60 and set(per_conversation.values()) == {3}
    pairs = list(submitted.values_list("conversation_id", "annotator_id"))
    assert len(pairs) == len(set(pairs)) == 180
    assert stored(campaign) == recounted(campaign)
    assert not Assignment.objects.filter(campaign=campaign, state="active").exists()
    if design == "active":  # at most four other claims hold a row at once, so few pass over a review item
        first = Assignment.objects.filter(campaign=campaign).order_by("pk").values_list("conversation_id", flat=True)
        assert sum(cid in review for cid in first[: len(review)]) >= len(review) - 4
