"""Fixtures shared by test modules of several packages (registered in tests/conftest.py)."""

import numpy as np
import pytest
import redis
from django.conf import settings
from django.db import connection

from engine.providers.simulated import SimulatedProvider
from jury.models import Judgement
from tests.conftest import missing
from tests.factories import (
    CaseFactory,
    ConversationFactory,
    JudgeFactory,
    JudgePromptFactory,
    ModelUnderTestFactory,
    UserFactory,
    scored_campaign,
)
from tests.workers import broker_url
from tests.worlds import DIMENSIONS


@pytest.fixture
def counted(monkeypatch):
    """Counts calls that reach the simulated provider."""
    calls = []
    original = SimulatedProvider.complete

    def complete(self, request):
        calls.append(request)
        return original(self, request)

    monkeypatch.setattr(SimulatedProvider, "complete", complete)
    return calls


@pytest.fixture
def scored_world():
    """40 cases × 2 models; clinicians score truth ± noise; judge A is truth + 1 (capped), judge B is noisy."""
    rng = np.random.default_rng(3)
    good = ModelUnderTestFactory(key="good", name="Good", family="Claude")
    weak = ModelUnderTestFactory(key="weak", name="Weak", family="GPT")
    clinicians = [UserFactory(username=f"doc{i}", roles=["clinician"]) for i in range(2)]
    judges = [JudgeFactory(key=key) for key in ("judge-a", "judge-b")]
    prompts = {d: JudgePromptFactory(dimension=d) for d in DIMENSIONS}
    conversations, truth = [], {}
    for c in range(40):
        case = CaseFactory(key=f"case-{c:03d}")
        for model, level in ((good, 4.0), (weak, 2.5)):
            conversation = ConversationFactory(case=case, model=model)
            truth[conversation.pk] = level + rng.normal(0, 0.4)
            conversations.append(conversation)
    judgements = []
    for conversation in conversations:
        t = truth[conversation.pk]
        for dimension in DIMENSIONS:
            a = int(np.clip(round(t + 1.0 + rng.normal(0, 0.3)), 1, 5))
            b = int(np.clip(round(t + rng.normal(0, 1.2)), 1, 5))
            judgements += [
                Judgement(
                    conversation=conversation, judge=judges[0], prompt=prompts[dimension], dimension=dimension, score=a
                ),
                Judgement(
                    conversation=conversation, judge=judges[1], prompt=prompts[dimension], dimension=dimension, score=b
                ),
            ]
    Judgement.objects.bulk_create(judgements)
    campaign = scored_campaign(
        key="cal",
        conversations=conversations[:60],
        clinicians=clinicians,
        score_of=lambda c, _: {d: int(np.clip(round(truth[c.pk] + rng.normal(0, 0.4)), 1, 5)) for d in DIMENSIONS},
    )
    return campaign


@pytest.fixture
def worker_services():
    """PostgreSQL and a Redis broker for a real Celery worker (skipped locally, required in CI), with the worker's
    Redis database emptied of what an earlier run left."""
    if connection.vendor != "postgresql":
        missing("PostgreSQL via DATABASE_URL")
    if not settings.CELERY_BROKER_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        missing("Redis via CELERY_BROKER_URL")
    redis.Redis.from_url(broker_url()).flushdb()
