"""Generation through the real SDK clients against the loopback fake on 127.0.0.1: the patient simulator through
the OpenAI client, the model under test through the Anthropic client. What goes over the wire is checked."""

import base64
from decimal import Decimal

import pytest
from django.utils import timezone

from engine.calls import RetryPolicy
from engine.models import CacheEntry
from generation import runner, services
from generation.models import GenerationCall, GenerationRun
from testkit.loopback import FakeProvider
from tests.bundle_files import png_bytes
from tests.factories import make_case, make_model
from tests.runs import PATIENT_LINES, Crash, kill_after_stored_replies, scripted, start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture
def fake():
    with FakeProvider(responder=scripted()) as server:
        yield server


@pytest.fixture
def wired(fake, settings):
    settings.JURY_PROVIDERS = {
        "openai": {"api_key": "sk-test-0123456789", "base_url": f"{fake.url}/v1", "concurrency": 2, "rpm": 0},
        "anthropic": {"api_key": "sk-ant-test-0123456789", "base_url": fake.url, "concurrency": 2, "rpm": 0},
    }
    case = make_case("case-0001")
    model = make_model(
        "claude-under-test", provider="anthropic", model_id="claude-test-model", prices=("3", "15"), max_tokens=300
    )
    return case, model


def sdk_run(model, **kwargs) -> GenerationRun:
    defaults = {
        "name": "sdk",
        "models": [model],
        "patient_provider": "openai",
        "patient_model_id": "gpt-patient",
        "patient_parameters": {"temperature": 0.8, "max_tokens": 200},
        "patient_prices": (Decimal("0.4"), Decimal("1.6")),
        "max_turns": 4,
        "seed": 5,
    }
    return start(services.create_run(**(defaults | kwargs)))


def bodies(fake, path_end: str) -> list[dict]:
    return [body["json"] for body in fake.bodies if body["path"].endswith(path_end)]


def test_a_full_conversation_through_both_sdks_has_the_expected_turns_and_records(fake, wired):
    _, model = wired
    run = sdk_run(model, conditions=["full"])
    stats = runner.work(run_id=run.pk, policy=RetryPolicy(max_retries=2, base=0.01, cap=0.1))
    assert stats.done == 1 and stats.failed == 0
    item = run.items.get()
    conversation = item.conversation
    turns = [(t.role, t.content) for t in conversation.turns.all()]
    assert turns == [
        ("patient", PATIENT_LINES[0]),
        ("assistant", "Assistant reply 1: please tell me about your medicines and allergies."),
        ("patient", PATIENT_LINES[1]),
        ("assistant", "Assistant reply 2: please tell me about your medicines and allergies."),
        ("patient", "Thank you, that's all I needed. Goodbye."),
    ]
    assert conversation.extra["generation"]["ended_by"] == "patient" and not conversation.synthetic
    calls = list(GenerationCall.objects.filter(item=item).order_by("turn"))
    assert [(c.role, c.provider, c.model_id) for c in calls] == [
        ("patient", "openai", "gpt-patient"),
        ("model", "anthropic", "claude-test-model"),
        ("patient", "openai", "gpt-patient"),
        ("model", "anthropic", "claude-test-model"),
        ("patient", "openai", "gpt-patient"),
    ]
    assert all(c.request_id.startswith("req") and c.input_tokens > 0 and c.cost > 0 for c in calls)
    assert calls[1].parameters == {"max_tokens": 300} and calls[0].parameters["seed"] == item.patient_seed % 2**31
    assert fake.calls == 5 and item.provider_calls == 5 and item.cost == sum(c.cost for c in calls)

    model_bodies = bodies(fake, "/messages")
    assert [m["role"] for m in model_bodies[-1]["messages"]] == ["user", "assistant", "user"]
    assert model_bodies[0]["model"] == "claude-test-model" and model_bodies[0]["max_tokens"] == 300
    patient_bodies = bodies(fake, "/chat/completions")
    roles = [m["role"] for m in patient_bodies[-1]["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]  # the cue, then the conversation
    assert "Never say it" in patient_bodies[0]["messages"][0]["content"]


def test_on_the_wire_images_only_under_full_and_no_ehr_and_the_record_only_under_full_and_no_image(fake, wired):
    _, model = wired
    sent = {}
    patient_openings = []
    for condition in ("full", "no_image", "no_ehr"):
        before = len(fake.bodies)
        run = sdk_run(model, conditions=[condition], name=condition)
        assert runner.work(run_id=run.pk).done == 1
        new = fake.bodies[before:]
        model_bodies = [b["json"] for b in new if b["path"].endswith("/messages")]
        first_user = model_bodies[0]["messages"][0]["content"]
        images = [part for part in first_user if part["type"] == "image"]
        later = [p for b in model_bodies for m in b["messages"][1:] for p in m["content"] if p["type"] == "image"]
        sent[condition] = (
            bool(images) and base64.b64decode(images[0]["source"]["data"]) == png_bytes(),
            all("Amlodipine" in b["system"] for b in model_bodies),
            any("Amlodipine" in b["system"] for b in model_bodies),
        )
        assert not later  # only the first patient message carries the image
        patient_openings += [b["json"] for b in new if b["path"].endswith("/chat/completions")][:1]
    assert sent == {"full": (True, True, True), "no_image": (False, True, True), "no_ehr": (True, False, False)}
    # The patient's opening request is the same for all three conditions: made once, then served from the cache.
    assert len(patient_openings) == 1
    opening = patient_openings[0]
    assert opening["seed"] == run.items.get().patient_seed % 2**31  # every run here has the same seed and case
    assert opening["messages"][1]["content"][0]["type"] == "image_url"  # the patient sees the image
    assert GenerationCall.objects.filter(turn=0, cached=True).count() == 2


def test_either_side_ends_the_conversation_or_max_turns_does(fake, wired):
    _, model = wired
    fake.responder = scripted(model_ends_on="amlodipine")
    run = sdk_run(model, conditions=["full"], name="model ends")
    runner.work(run_id=run.pk)
    conversation = run.items.get().conversation
    assert conversation.extra["generation"]["ended_by"] == "model"
    assert [t.role for t in conversation.turns.all()] == ["patient", "assistant", "patient", "assistant"]
    assert conversation.turns.last().content == "Take care, and see your doctor this week."

    fake.responder = scripted(patient_ends=False)
    run = sdk_run(model, conditions=["no_ehr"], name="capped", max_turns=2)
    runner.work(run_id=run.pk)
    conversation = run.items.get().conversation
    assert conversation.extra["generation"]["ended_by"] == "max_turns" and conversation.turns.count() == 4


def test_a_killed_run_resumes_through_the_sdks_without_a_duplicate_call(fake, wired, monkeypatch):
    _, model = wired
    run = sdk_run(model, conditions=["no_image"], name="killed")
    revive = kill_after_stored_replies(monkeypatch, 3)
    with pytest.raises(Crash):
        runner.work(run_id=run.pk)
    assert fake.calls == 3 and CacheEntry.objects.count() == 3

    revive()
    run.items.update(lease_until=timezone.now())  # the dead worker's lease runs out
    stats = runner.work(run_id=run.pk)
    assert stats.done == 1 and stats.provider_calls == 2
    assert fake.calls == 5 and max(fake.distinct.values()) == 1  # no request reached the provider twice
    assert run.items.get().conversation.turns.count() == 5


def test_a_429_with_retry_after_is_retried_and_a_401_fails_the_conversation_clearly(fake, wired):
    _, model = wired
    fake.queue("429:0")
    run = sdk_run(model, conditions=["full"], name="retry")
    stats = runner.work(run_id=run.pk, policy=RetryPolicy(max_retries=2, base=0.01, cap=0.1))
    assert stats.done == 1 and fake.calls == 6
    assert GenerationCall.objects.get(item__run=run, turn=0).attempts == 2

    fake.queue("ok", "401")
    run = sdk_run(model, conditions=["full"], name="refused", seed=99)
    stats = runner.work(run_id=run.pk)
    item = run.items.get()
    assert stats.failed == 1 and "HTTP 401" in item.error and "check the API key" in item.error
    assert "0123456789" not in item.error and item.conversation is None
