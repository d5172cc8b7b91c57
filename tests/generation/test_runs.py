"""Conversation generation with the simulated provider: personas, the conditions matrix, runs end to end, the
cache, crash and resume, budget, cancel, provenance, export, and a jury run over generated conversations."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from annotation.models import Conversation
from engine.models import CacheEntry
from engine.providers.simulated import SimulatedProvider
from generation import dialogue, estimate, prompts, runner, selectors, services
from generation.models import GenerationCall, GenerationItem, GenerationRun
from tests.factories import ModelUnderTestFactory, make_case, make_model
from tests.runs import Crash, kill_after_stored_replies, start

pytestmark = pytest.mark.usefixtures("eager_celery")


@pytest.fixture
def world(db):
    cases = [make_case("case-0001"), make_case("case-0002", diagnosis="basal cell carcinoma", color=(90, 60, 40))]
    models = [make_model("sim-a"), make_model("sim-b")]
    return cases, models


# ------------------------------------------------------------------------------------------ prompts and personas


def test_the_prompt_files_parse_and_a_changed_text_needs_a_new_version(world):
    patient = prompts.load(prompts.PATIENT_PROMPT)
    model = prompts.load(prompts.MODEL_PROMPT)
    assert (patient.role, model.role) == ("patient", "model")
    assert len(patient.content_hash) == 64 and patient.content_hash != model.content_hash
    with pytest.raises(ValueError, match="no '---' line"):
        prompts.parse("key: x\nversion: 1\nrole: patient\n", name="x@1.txt")
    run = services.create_run(name="first", models=world[1][:1])
    assert run.prompts["patient"]["sha256"] == patient.content_hash
    GenerationRun.objects.filter(pk=run.pk).update(
        prompts={**run.prompts, "patient": {**run.prompts["patient"], "sha256": "0" * 64}}
    )
    with pytest.raises(services.GenerationError, match="give the changed prompt a new version"):
        services.create_run(name="second", models=world[1][:1])


def test_the_persona_hides_the_diagnosis_from_the_patients_words_and_is_the_same_for_every_condition(world):
    cases, models = world
    run = services.create_run(name="personas", models=models[:1])
    items = list(run.items.filter(case=cases[0]).order_by("condition"))
    assert [i.condition for i in items] == ["full", "no_ehr", "no_image"]
    assert len({i.patient_seed for i in items}) == 1
    assert run.items.filter(case=cases[1]).first().patient_seed != items[0].patient_seed
    talks = [runner.Runner(run)._dialogue(item) for item in items]
    texts = {
        dialogue.patient_request(
            caller=t.patient, prompt=run.prompts["patient"], persona=t.persona, images=t.images, turns=[]
        ).system
        for t in talks
    }
    assert len(texts) == 1  # the same persona text for the three conditions
    persona = texts.pop()
    assert "Never say it" in persona and '"superficial spreading melanoma"' in persona
    assert "62 years old, female" in persona and "Amlodipine 5 mg tablet" in persona and "Penicillin" in persona
    opening = SimulatedProvider().complete(
        dialogue.patient_request(
            caller=talks[0].patient, prompt=run.prompts["patient"], persona=talks[0].persona, images=(), turns=[]
        )
    )
    assert opening.text.startswith("[simulated]") and "melanoma" not in opening.text.lower()
    assert "clinical photograph" in opening.text


# ------------------------------------------------------------------------------------------ the conditions matrix


def test_images_go_only_under_full_and_no_ehr_and_the_record_only_under_full_and_no_image(world, counted):
    cases, models = world
    run = start(services.create_run(name="matrix", models=models[:1], case_selection={"keys": ["case-0001"]}))
    stats = runner.work(run_id=run.pk)
    assert stats.done == 3 and stats.failed == 0
    model_calls = [r for r in counted if r.hints["role"] == "model_under_test"]
    seen = {}
    for request in model_calls:
        condition = next(
            item.condition
            for item in run.items.all()
            if GenerationCall.objects.filter(item=item, cache_key=request.cache_key(provider="simulated")).exists()
        )
        images = sum(len(m.images) for m in request.messages)
        seen.setdefault(condition, set()).add((images > 0, "Amlodipine" in request.system))
        assert all(not m.images for m in request.messages[1:])  # the image rides on the first patient message
    assert seen == {"full": {(True, True)}, "no_image": {(False, True)}, "no_ehr": {(True, False)}}
    patient_calls = [r for r in counted if r.hints["role"] == "patient"]
    assert all(len(r.messages[0].images) == 1 for r in patient_calls)  # the patient always has the image


# ------------------------------------------------------------------------------------------ runs end to end


def test_a_simulated_run_stores_conversations_with_turn_structure_calls_and_provenance(
    world, counted, django_capture_on_commit_callbacks
):
    cases, models = world
    run = services.create_run(name="demo", models=models, max_turns=4, seed=7)
    assert run.items.count() == 2 * 2 * 3
    estimate_ = services.estimate_run(run=run)
    assert estimate_["conversations"] == 12 and estimate_["model_calls"] == 12 * 4
    assert estimate_["patient_calls"] == 2 + 12 * 3  # one opening a case, then three more per conversation
    with django_capture_on_commit_callbacks(execute=True):
        call_command("generate_conversations", "--resume", str(run.pk), stdout=io.StringIO())
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.COMPLETED
    assert Conversation.objects.filter(key__startswith=f"conv-gen{run.pk}-").count() == 12
    conversation = Conversation.objects.get(key=f"conv-gen{run.pk}-case-0001-sim-a-full")
    turns = list(conversation.turns.all())
    roles = [t.role for t in turns]
    assert roles[0] == "patient" and all(a != b for a, b in zip(roles, roles[1:], strict=False))
    assert 2 <= len([r for r in roles if r == "assistant"]) <= 4
    assert all(t.content.startswith("[simulated]") and "[END]" not in t.content for t in turns)
    assert conversation.synthetic and set(conversation.extra["demo_quality"]) == {"safety", "accuracy", "uncertainty"}
    provenance = conversation.extra["generation"]
    assert provenance["run"] == run.pk and provenance["condition"] == "full"
    assert provenance["patient"]["prompt"] == "patient@1" and len(provenance["patient"]["prompt_sha256"]) == 64
    assert (
        provenance["model"]["prompt"] == "model-under-test@1" and provenance["model"]["model_id"] == "simulated/sim-a"
    )
    assert provenance["model"]["image_sent"] and provenance["model"]["ehr_sent"]
    assert provenance["ended_by"] in {"patient", "max_turns"}
    item = conversation.generation_item
    calls = list(item.calls.order_by("turn"))
    assert [c.turn for c in calls] == list(range(len(calls)))
    assert [c.role for c in calls][: len(turns)] == ["patient" if r == "patient" else "model" for r in roles]
    assert all(c.input_tokens > 0 and c.request_id.startswith("sim-") for c in calls)
    fresh = [c for c in calls if not c.cached]
    assert item.provider_calls == len(fresh) and item.cost == sum(c.cost for c in calls) > 0
    # The opening is the same request for every model and condition of a case: paid once, then the cache.
    openings = GenerationCall.objects.filter(item__run=run, turn=0)
    assert openings.filter(cached=False).count() == 2 and openings.filter(cached=True).count() == 10
    assert len(counted) == GenerationCall.objects.filter(item__run=run, cached=False).count()
    progress = selectors.run_progress(run=run)
    assert progress["done"] == 12 and progress["percent"] == 100 and progress["calls"] == len(counted)


def test_rerunning_the_same_run_settings_replays_every_turn_from_the_cache(world, counted):
    _, models = world
    first = start(services.create_run(name="one", models=models[:1], seed=3))
    runner.work(run_id=first.pk)
    paid = len(counted)
    second = start(services.create_run(name="two", models=models[:1], seed=3))
    stats = runner.work(run_id=second.pk)
    assert stats.done == 6 and len(counted) == paid and stats.provider_calls == 0
    a = Conversation.objects.get(key=f"conv-gen{first.pk}-case-0002-sim-a-no_ehr")
    b = Conversation.objects.get(key=f"conv-gen{second.pk}-case-0002-sim-a-no_ehr")
    assert [t.content for t in a.turns.all()] == [t.content for t in b.turns.all()]


def test_a_killed_run_resumes_without_repeating_a_single_provider_call(world, counted, monkeypatch):
    _, models = world
    run = start(services.create_run(name="crash", models=models, max_turns=3, seed=11))
    revive = kill_after_stored_replies(monkeypatch, 7)
    with pytest.raises(Crash):
        runner.work(run_id=run.pk)
    made = {request.cache_key(provider="simulated") for request in counted}
    stored = set(CacheEntry.objects.values_list("key", flat=True))
    assert len(stored) == 7 and GenerationCall.objects.filter(cached=False).count() == 7
    assert not Conversation.objects.filter(key__startswith=f"conv-gen{run.pk}-").exists()
    assert run.items.filter(status=GenerationItem.Status.RUNNING).exists()  # still leased by the dead worker

    revive()
    counted.clear()
    assert runner.work(run_id=run.pk).claimed == 0  # the leases still hold: nothing to take yet
    run.items.update(lease_until=timezone.now())  # the lease runs out
    stats = runner.work(run_id=run.pk)
    assert stats.done == 12 and stats.failed == 0
    resumed = [request.cache_key(provider="simulated") for request in counted]
    assert not set(resumed) & stored  # no stored reply was asked for again
    assert set(resumed) & made == made - stored  # only calls answered but not yet stored at the kill (if any)
    assert len(resumed) == len(set(resumed))
    fresh = GenerationCall.objects.filter(item__run=run, cached=False)
    assert fresh.count() == 7 + len(resumed) == CacheEntry.objects.count()
    assert runner.finish_if_done(run_id=run.pk)


def test_an_existing_conversation_is_never_overwritten(world):
    cases, models = world
    run = start(services.create_run(name="clash", models=models[:1], conditions=["full"]))
    taken = Conversation.objects.create(
        key=f"conv-gen{run.pk}-case-0001-sim-a-full", case=cases[0], model=models[0], condition="full"
    )
    stats = runner.work(run_id=run.pk)
    assert stats.done == 1 and stats.failed == 1
    failed = run.items.get(status=GenerationItem.Status.FAILED)
    assert "already exists" in failed.error and "never overwrite" in failed.error
    assert taken.turns.count() == 0 and failed.conversation is None


def test_a_budget_cap_stops_the_run_and_a_new_budget_resumes_it(world, counted, django_capture_on_commit_callbacks):
    _, models = world
    run = services.create_run(name="budget", models=models, budget=Decimal("0.004"))
    with django_capture_on_commit_callbacks(execute=True):
        services.launch_run(run=run)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.BUDGET_STOPPED and "budget cap" in run.message
    spent = selectors.run_progress(run=run)["cost"]
    assert spent <= Decimal("0.004")
    assert not run.items.filter(status=GenerationItem.Status.RUNNING).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.launch_run(run=run, budget=Decimal("10"))
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.COMPLETED and run.items.filter(status="done").count() == 12


def test_cancel_and_retry(world, django_capture_on_commit_callbacks):
    _, models = world
    run = services.create_run(name="cancel", models=models[:1])
    services.cancel_run(run=run)
    assert run.status == GenerationRun.Status.CANCELLED and run.items.filter(status="cancelled").count() == 6
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_failed(run=run) == 6
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.COMPLETED


def test_runs_refuse_what_cannot_be_generated(world):
    cases, models = world
    blind = make_model("text-only", accepts_images=False)
    with pytest.raises(services.GenerationError, match="cannot take images"):
        services.create_run(name="x", models=[blind])
    assert services.create_run(name="x", models=[blind], conditions=["no_image"]).items.count() == 2
    with pytest.raises(services.GenerationError, match="no endpoint for plain"):
        services.create_run(name="x", models=[ModelUnderTestFactory(key="plain")])
    with pytest.raises(services.GenerationError, match="no case matches"):
        services.create_run(name="x", models=models, case_selection={"keys": ["nope"]})


# ------------------------------------------------------------------------------------------ used like imported ones


def test_generated_conversations_export_as_a_bundle_and_a_jury_run_scores_them(world, tmp_path):
    from bundles.exporter import export_bundle
    from jury import runner as jury_runner
    from jury import services as jury_services
    from jury.models import JudgePrompt, JuryRun

    _, models = world
    run = start(services.create_run(name="export", models=models[:1], conditions=["full", "no_image"]))
    runner.work(run_id=run.pk)
    report = export_bundle(out=tmp_path / "bundle")
    lines = (tmp_path / "bundle" / "conversations.jsonl").read_text().splitlines()
    generated = [json.loads(line) for line in lines]
    assert report.counts["conversations.jsonl"] == 4
    record = next(r for r in generated if r["id"] == f"conv-gen{run.pk}-case-0001-sim-a-full")
    assert record["synthetic"] and record["generation"]["patient"]["prompt"] == "patient@1"
    assert record["turns"][0]["role"] == "patient"

    jury_services.sync_prompts()
    judges = jury_services.ensure_demo_judges()[:1]
    jury_run = jury_services.create_run(
        name="judge generated",
        judges=judges,
        prompts=list(JudgePrompt.objects.filter(key="safety-anchored")),
        selection={"models": ["sim-a"]},
    )
    JuryRun.objects.filter(pk=jury_run.pk).update(status=JuryRun.Status.RUNNING)
    stats = jury_runner.work(run_id=jury_run.pk)
    assert stats.done == 4 and stats.failed == 0


def test_the_estimate_arithmetic_counts_growing_context_and_one_opening_a_case():
    patient, model = (
        estimate.Side(fixed_tokens=1000, reply_tokens=50),
        estimate.Side(fixed_tokens=300, reply_tokens=200),
    )
    later, opening, model_calls = estimate.conversation_calls(max_turns=3, patient=patient, model=model)
    assert opening == estimate.CallTotals(1, 1000, 50)
    # patient calls 2 and 3 carry 1 and 2 earlier exchanges of 250 tokens each
    assert later == estimate.CallTotals(2, 2 * 1000 + 3 * 250, 100)
    # model call k carries the fixed part, k - 1 earlier exchanges and the new patient message
    assert model_calls == estimate.CallTotals(3, 3 * (300 + 50) + 3 * 250, 600)
    planned = [estimate.Planned("c1", m, patient, model) for m in ("a", "b") for _ in range(3)]
    total_patient, per_model = estimate.estimate_conversations(planned, max_turns=3)
    assert total_patient.calls == 1 + 6 * 2 and per_model["a"].calls == 9
    assert estimate.money(1_000_000, 500_000, "3", "15") == Decimal("10.5")
    with pytest.raises(ValueError, match="at least 1"):
        estimate.conversation_calls(max_turns=0, patient=patient, model=model)
