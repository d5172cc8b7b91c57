"""The HealthBench-style meta-evaluation export: clinician scores and consensus per conversation and dimension."""

import json

import pytest
from django.core.management import call_command

from annotation.models import Rubric
from tests.factories import ConversationFactory, UserFactory, scored_campaign

pytestmark = pytest.mark.django_db


def test_meta_evaluation_rows_without_a_calibration(tmp_path):
    conversations = ConversationFactory.create_batch(2)
    clinicians = [UserFactory(username="dr-a"), UserFactory(username="dr-b")]
    dimensions = list(Rubric.objects.get(is_default=True).dimensions.values_list("key", flat=True))
    campaign = scored_campaign(
        key="meta",
        conversations=conversations,
        clinicians=clinicians,
        score_of=lambda c, _: dict.fromkeys(dimensions, 4),
    )
    call_command("export_meta_eval", "--campaign", campaign.key, "--out", str(tmp_path / "meta.jsonl"))
    rows = [json.loads(line) for line in (tmp_path / "meta.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * len(dimensions)
    assert rows[0]["clinician_scores"] == {"dr-a": 4, "dr-b": 4} and rows[0]["consensus"] == 4.0
    assert rows[0]["calibrated_jury_score"] is None and rows[0]["prompt"][0]["role"] in ("user", "assistant")
