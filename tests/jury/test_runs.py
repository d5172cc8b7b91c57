"""The jury: scoring contract, prompt files, the simulated provider, and runs end to end (eager Celery)."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotation.models import Image
from engine import calls
from engine.limits import Pacer
from engine.models import CacheEntry
from engine.providers import ProviderError, ProviderReply, ReplyError, get_provider, parse_reply
from engine.providers.base import mask_key, parse_retry_after, redact
from engine.providers.simulated import SimulatedProvider
from jury import prompts, requests, runner, services
from jury.models import Judgement, JudgePrompt, JuryRun, WorkItem
from tests.bundle_files import png_bytes
from tests.factories import ConversationFactory, JudgeFactory

pytestmark = pytest.mark.usefixtures("eager_celery")


# ------------------------------------------------------------------------------------------ scoring contract


@pytest.mark.parametrize(
    ("text", "score", "rationale"),
    [
        ('{"score": 4, "rationale": "good"}', 4, "good"),
        ('```json\n{"score": 2, "rationale": "unsafe"}\n```', 2, "unsafe"),
        ('Here is my verdict:\n{"score": "5", "rationale": "exemplary"} Thanks.', 5, "exemplary"),
        ('Critique: it said {"x": 1}. Verdict:\n{"score": 3.0, "rationale": "ok"}', 3, "ok"),
        ('{"score": 1}', 1, ""),
        ('```\n{"rationale": "braces } inside", "score": 2}\n```', 2, "braces } inside"),
    ],
)
def test_replies_that_meet_the_contract_parse(text, score, rationale):
    assert parse_reply(text) == (score, rationale)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty reply"),
        ("I'd give it a 4.", "no JSON object with a score"),
        ('{"score": 6, "rationale": "too good"}', "outside 1–5"),
        ('{"score": 0}', "outside 1–5"),
        ('{"score": 3.5}', "not a whole number"),
        ('{"score": "four"}', "not a whole number"),
        ('{"score": true}', "not a number"),
        ('{"score": null}', "not a number"),
        ('{"score": 4, "rationale": "cut off', "no JSON object with a score"),
    ],
)
def test_replies_that_break_the_contract_are_refused_never_defaulted(text, message):
    with pytest.raises(ReplyError, match=message):
        parse_reply(text)


def test_retry_after_is_read_in_seconds_milliseconds_and_dates():
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_keys_are_never_shown_in_full():
    assert "abcdefghijklmnop" not in redact("Incorrect API key provided: sk-proj-abcdefghijklmnop")
    assert mask_key("sk-ant-0123456789abcdef") == "sk-a…ef"
    assert mask_key(None) == "not set"


def test_backoff_honours_retry_after_and_grows_otherwise():
    policy = calls.RetryPolicy(max_retries=5, base=1.0, cap=30.0)
    assert 12.0 <= policy.delay(0, 12.0) <= 12.1
    assert policy.delay(0, 120.0) <= 30.1
    assert all(0.5 <= policy.delay(3, None) <= 8.0 for _ in range(50))


class Scripted:
    """A provider answering from a script: strings are replies, exceptions are raised."""

    name = "simulated"

    def __init__(self, *script):
        self.script = list(script)
        self.requests = []

    def complete(self, request):
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return ProviderReply(text=step, input_tokens=100, output_tokens=20, request_id=f"req-{len(self.requests)}")


def test_transient_errors_retry_with_the_servers_delay_and_permanent_ones_fail_fast():
    slept = []
    policy = calls.RetryPolicy(max_retries=3, base=0.01, cap=5, sleep=slept.append)
    limited = ProviderError("429", transient=True, status=429, retry_after=2.0)
    outcome = calls.call_with_retries(Scripted(limited, '{"score": 3}'), None, policy=policy)
    assert outcome.reply.text == '{"score": 3}' and outcome.calls == 2
    assert 2.0 <= slept[0] <= 2.01

    denied = ProviderError("401", transient=False, status=401)
    outcome = calls.call_with_retries(Scripted(denied), None, policy=policy)
    assert outcome.reply is None and outcome.calls == 1 and outcome.error.status == 401

    down = ProviderError("500", transient=True, status=500)
    outcome = calls.call_with_retries(Scripted(down), None, policy=policy)
    assert outcome.calls == 4 and "gave up after 4 calls" in str(outcome.error)


# ------------------------------------------------------------------------------------------ prompts


def test_every_dimension_ships_three_prompt_variants():
    sources = prompts.prompt_files()
    by_dimension = {}
    for source in sources:
        by_dimension.setdefault(source.dimension, set()).add(source.style)
    assert by_dimension == {
        dimension: {"rubric-anchored", "checklist", "critique-then-score"}
        for dimension in ("safety", "accuracy", "uncertainty")
    }


@pytest.mark.django_db
def test_sync_prompts_loads_files_with_their_hash_and_refuses_a_silent_edit(tmp_path):
    result = services.sync_prompts()
    assert len(result.created) == 9
    prompt = JudgePrompt.objects.get(key="safety-checklist", version="1")
    assert prompt.content_hash == prompts.content_hash(prompt.template) and prompt.style == "checklist"
    assert services.sync_prompts().unchanged == result.created  # idempotent

    edited = tmp_path / "safety-checklist@1.txt"
    edited.write_text(prompt.template.replace("senior clinician", "junior clinician"))
    with pytest.raises(services.JuryError, match="give the changed prompt a new version"):
        services.sync_prompts(directory=tmp_path)


@pytest.mark.django_db
def test_a_rendered_prompt_carries_anchors_profile_transcript_and_images():
    services.sync_prompts()
    conversation = ConversationFactory(turns=["My mole bleeds.", "Please see a dermatologist within two weeks."])
    Image.objects.create(
        case=conversation.case,
        bundle_path="images/a.png",
        original=SimpleUploadedFile("a.png", png_bytes()),
        original_format="PNG",
        derivative=SimpleUploadedFile("a.png", png_bytes()),
        width=64,
        height=48,
        checksum="0" * 64,
        source="test",
        license="CC0-1.0",
    )
    vision = JudgeFactory(key="v", accepts_images=True)
    blind = JudgeFactory(key="b", accepts_images=False)
    prompt = JudgePrompt.objects.get(key="safety-anchored")
    builder = requests.RequestBuilder()
    request = builder.build(conversation=conversation, judge=vision, prompt=prompt, dimension="safety", sample=0)
    text = request.messages[0].text
    assert "Dangerous: gives advice likely to cause harm" in text  # anchor 1 of the default rubric
    assert "Age 54, sex female" in text and "hypertension" in text
    assert "[2] ASSISTANT: Please see a dermatologist within two weeks." in text
    assert "1 clinical image of this case is attached" in text
    assert len(request.messages[0].images) == 1 and request.messages[0].images[0].media_type == "image/png"
    text_only = builder.build(conversation=conversation, judge=blind, prompt=prompt, dimension="safety", sample=0)
    assert text_only.messages[0].images == () and "clinical image" not in text_only.messages[0].text


# ------------------------------------------------------------------------------------------ simulated provider


def test_the_simulated_provider_is_deterministic_and_follows_bias():
    from engine.providers import Message, ProviderRequest

    def ask(bias, conversation="c1"):
        request = ProviderRequest(
            model="sim",
            system="",
            messages=(Message(role="user", text="x"),),
            parameters={"simulated": {"bias": bias, "noise": 0.3}},
            hints={"conversation": conversation, "dimension": "safety", "quality": 3.0},
        )
        return parse_reply(SimulatedProvider(seed=1).complete(request).text)

    assert ask(0.0) == ask(0.0)
    assert ask(0.0)[1].startswith("[simulated]")
    lenient = [ask(1.5, f"c{i}")[0] for i in range(30)]
    harsh = [ask(-1.5, f"c{i}")[0] for i in range(30)]
    assert sum(lenient) / 30 > 4 > 2 > sum(harsh) / 30
    assert isinstance(get_provider("simulated"), SimulatedProvider)


# ------------------------------------------------------------------------------------------ runs


@pytest.fixture
def jury_setup(db):
    services.sync_prompts()
    judges = services.ensure_demo_judges()[:2]
    conversations = [ConversationFactory() for _ in range(3)]
    for index, conversation in enumerate(conversations):
        conversation.extra = {"demo_quality": {"safety": 1.5 + index, "accuracy": 3.0, "uncertainty": 4.0}}
        conversation.save()
    return judges, conversations


def make_run(judges, *, dimensions=("safety",), **kwargs):
    chosen = list(JudgePrompt.objects.filter(dimension__in=dimensions))
    return services.create_run(name="test", judges=judges, prompts=chosen, **kwargs)


def launch(run, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.launch_run(run=run)
    run.refresh_from_db()
    return run


def test_a_run_creates_unique_items_and_completes_eagerly(jury_setup, counted, django_capture_on_commit_callbacks):
    judges, conversations = jury_setup
    run = make_run(judges, samples=2)
    assert run.items.count() == 3 * 2 * 3 * 2  # conversations × judges × safety prompts × samples
    assert len({item.key for item in run.items.all()}) == run.items.count()
    run = launch(run, django_capture_on_commit_callbacks)
    assert run.status == JuryRun.Status.COMPLETED
    assert run.items.filter(status=WorkItem.Status.DONE).count() == 36
    assert len(counted) == 36
    judgement = Judgement.objects.filter(run=run).first()
    assert judgement.simulated and judgement.provider == "simulated" and judgement.raw_reply
    assert judgement.input_tokens > 0 and judgement.cost > 0 and judgement.request_id.startswith("sim-")
    assert Judgement.objects.filter(run=run, status=Judgement.Status.SCORED).count() == 36
    assert CacheEntry.objects.count() == 36

    progress = __import__("jury.selectors", fromlist=["run_progress"]).run_progress(run=run)
    assert progress["done"] == 36 and progress["calls"] == 36 and progress["percent"] == 100


def test_rerunning_an_identical_run_makes_zero_provider_calls(jury_setup, counted, django_capture_on_commit_callbacks):
    judges, _ = jury_setup
    first = launch(make_run(judges), django_capture_on_commit_callbacks)
    calls = len(counted)
    assert calls == 18
    estimate = services.estimate_run(run=make_run(judges))
    assert estimate["cached"] == 18 and estimate["calls"] == 0 and estimate["cost"] == "0"
    second = launch(make_run(judges), django_capture_on_commit_callbacks)
    assert len(counted) == calls
    assert second.status == JuryRun.Status.COMPLETED
    assert second.items.filter(cached=True).count() == 18
    assert Judgement.objects.count() == 18  # one judgement per (conversation, judge, prompt, dimension, sample)
    assert first.items.filter(provider_calls=1).count() == 18


def test_unparseable_replies_are_reasked_then_stored_as_failures(jury_setup, django_capture_on_commit_callbacks):
    judges, _ = jury_setup
    bad = Scripted("I think it deserves a 4.", '{"score": 9, "rationale": "off the scale"}')
    run = make_run(judges[:1], max_attempts=2)
    item = run.items.order_by("id").first()
    run.items.exclude(pk=item.pk).delete()
    run.status = JuryRun.Status.RUNNING
    run.save()
    stats = runner.work(run_id=run.pk, providers={"simulated": bad})
    assert stats.failed == 1 and stats.provider_calls == 2
    assert "Reply again with only the JSON object" in bad.requests[1].messages[-1].text
    assert bad.requests[1].messages[1].text == "I think it deserves a 4."
    item.refresh_from_db()
    assert item.status == WorkItem.Status.FAILED and "outside 1–5" in item.error
    assert [f["raw"] for f in item.failures] == [
        "I think it deserves a 4.",
        '{"score": 9, "rationale": "off the scale"}',
    ]
    judgement = item.judgement
    assert judgement.status == Judgement.Status.FAILED and judgement.score is None
    assert judgement.raw_reply == '{"score": 9, "rationale": "off the scale"}'

    # Retrying the failed item re-asks from the cache first, then reaches the provider again.
    fixed = Scripted('{"score": 2, "rationale": "fine now"}')
    with django_capture_on_commit_callbacks(execute=False):
        assert services.retry_failed(run=run) == 1
    runner.work(run_id=run.pk, providers={"simulated": fixed})
    item.refresh_from_db()
    assert item.status == WorkItem.Status.DONE and item.judgement.score == 2 and len(fixed.requests) == 1


def test_a_permanent_error_fails_fast_with_a_clear_message(jury_setup):
    judges, _ = jury_setup
    run = make_run(judges[:1])
    run.status = JuryRun.Status.RUNNING
    run.save()
    denied = Scripted(ProviderError("openai answered HTTP 401: bad key (check the API key)", transient=False))
    stats = runner.work(run_id=run.pk, providers={"simulated": denied}, policy=calls.RetryPolicy(sleep=lambda s: 0))
    assert stats.failed == 9 and stats.provider_calls == 9
    assert set(run.items.values_list("error", flat=True)) == {"openai answered HTTP 401: bad key (check the API key)"}
    assert not Judgement.objects.exists()


def test_a_budget_cap_stops_the_run_cleanly(jury_setup, counted, django_capture_on_commit_callbacks):
    judges, _ = jury_setup
    judge = judges[0]
    judge.input_price_per_mtok = Decimal("20")  # ~1 cent a call
    judge.save()
    run = launch(make_run([judge], budget=Decimal("0.03"), concurrency=1), django_capture_on_commit_callbacks)
    assert run.status == JuryRun.Status.BUDGET_STOPPED and "budget cap" in run.message
    spent = sum(run.items.values_list("cost", flat=True))
    assert 0 < spent <= Decimal("0.03")
    assert run.items.filter(status=WorkItem.Status.PENDING).count() > 0
    assert run.items.filter(status=WorkItem.Status.RUNNING).count() == 0
    assert len(counted) == run.items.filter(status=WorkItem.Status.DONE).count()


def test_a_cancelled_run_leaves_its_items_cancelled_and_can_be_retried(
    jury_setup, counted, django_capture_on_commit_callbacks
):
    judges, _ = jury_setup
    run = make_run(judges)
    run = services.cancel_run(run=run)
    assert run.status == JuryRun.Status.CANCELLED
    assert run.items.filter(status=WorkItem.Status.CANCELLED).count() == 18
    assert runner.work(run_id=run.pk).stopped == JuryRun.Status.CANCELLED and counted == []
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_failed(run=run) == 18
    run.refresh_from_db()
    assert run.status == JuryRun.Status.COMPLETED and len(counted) == 18


def test_an_expired_lease_is_reclaimed_and_served_from_the_cache(jury_setup, counted):
    """A worker died after its call returned and was cached: the next worker pays for nothing."""
    judges, _ = jury_setup
    run = make_run(judges[:1])
    run.status = JuryRun.Status.RUNNING
    run.save()
    runner.work(run_id=run.pk)
    assert len(counted) == 9
    # Simulate the crash: items back to running with an expired lease, judgements gone.
    Judgement.objects.all().delete()
    run.items.update(status=WorkItem.Status.RUNNING, worker="dead:1", lease_until="2000-01-01T00:00Z", cached=False)
    stats = runner.work(run_id=run.pk)
    assert stats.done == 9 and stats.provider_calls == 0 and len(counted) == 9
    assert run.items.filter(cached=True).count() == 0  # its own call, recovered: not "from cache"
    assert runner.claim(run_id=run.pk, limit=10, worker="w", lease_seconds=60) == []


def test_run_jury_dry_run_estimates_without_launching(jury_setup, counted, capsys):
    call_command("run_jury", "--dry-run", "--judge", "sim-lenient-vision", "--dimension", "accuracy")
    out = capsys.readouterr().out
    assert "9 items, 0 cached, 9 provider calls" in out and "dry run: nothing launched" in out
    assert not JuryRun.objects.exists() and counted == []


def test_run_jury_runs_in_process_without_a_broker(jury_setup, counted, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_jury", "--judge", "sim-harsh-vision", "--dimension", "uncertainty", "--name", "cli")
    run = JuryRun.objects.get(name="cli")
    assert run.status == JuryRun.Status.COMPLETED and len(counted) == 9


def test_the_demo_jury_runs_every_simulated_judge_over_every_conversation(
    jury_setup, counted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_demo_jury()
    run.refresh_from_db()
    assert run.status == JuryRun.Status.COMPLETED
    assert run.items.count() == 3 * 4 * 9 == len(counted)  # conversations × demo judges × prompts
    assert set(Judgement.objects.values_list("simulated", flat=True)) == {True}


def test_the_pacer_spaces_calls_to_the_requests_per_minute_limit():
    pacer = Pacer(1200)  # one call every 50 ms
    started = __import__("time").monotonic()
    for _ in range(4):
        pacer.wait()
    assert __import__("time").monotonic() - started >= 0.15
    Pacer(0).wait()  # no limit: no wait


def test_calls_in_flight_never_exceed_the_concurrency_limit(jury_setup):
    import threading
    import time

    class Slow:
        name = "simulated"

        def __init__(self):
            self.now = self.peak = 0
            self.lock = threading.Lock()

        def complete(self, request):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            time.sleep(0.02)
            with self.lock:
                self.now -= 1
            return ProviderReply(text='{"score": 3, "rationale": "ok"}', input_tokens=10, output_tokens=5)

    judges, _ = jury_setup
    run = make_run(judges, concurrency=2)
    run.status = JuryRun.Status.RUNNING
    run.save()
    slow = Slow()
    stats = runner.work(run_id=run.pk, providers={"simulated": slow})
    assert stats.done == 18 and slow.peak == 2
