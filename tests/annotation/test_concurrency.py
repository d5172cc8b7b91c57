"""Five clinicians claim and submit at once on PostgreSQL (row locks with SKIP LOCKED): every conversation ends
with exactly k annotations, none by the same clinician twice, none lost."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from annotation import services
from annotation.models import Annotation, Rubric
from annotation.services import AnnotationInput
from tests.conftest import missing
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.services


@pytest.mark.django_db(transaction=True)
def test_five_clinicians_in_threads_fill_every_conversation_exactly_k_times():
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
