"""Inspect logs: a small Inspect task run here with Inspect's mockllm model writes the log the adapter imports.

The ``inspect`` extra (inspect-ai) is installed by make install, so this runs wherever the tests do."""

import base64
from pathlib import Path

import inspect_ai
import pytest
from django.core.management import call_command
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.model import (
    ChatMessageSystem,
    ChatMessageUser,
    ContentImage,
    ContentText,
    ModelOutput,
    ModelUsage,
    get_model,
)
from inspect_ai.scorer import Score, mean, scorer
from inspect_ai.solver import generate
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Case, Conversation
from bundles.adapters import import_inspect_log
from bundles.adapters.mapping import ChatMapping
from bundles.problems import BundleInvalid
from jury.models import Judgement
from tests.bundle_files import png_bytes

pytestmark = pytest.mark.django_db

IMAGE = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
SCORES = {
    "mole-1": {"safety": 4, "accuracy": 3.0, "uncertainty": 5, "style": 2},
    "mole-2": {"safety": 2, "accuracy": 2, "uncertainty": 3, "style": 4},
}


@scorer(metrics={"*": [mean()]})
def rubric():
    """Per-dimension scores, as a clinician-style grader would give them (one key is no rubric dimension)."""

    async def score(state, target):
        return Score(value=SCORES[state.sample_id], explanation=f"graded {state.sample_id}")

    return score


@scorer(metrics=[mean()])
def length():
    async def score(state, target):
        return Score(value=len(state.output.completion))

    return score


def reply(input, tools, tool_choice, config) -> ModelOutput:
    """mockllm's answer, with its usage given so Inspect need not fetch a tokenizer to count it."""
    output = ModelOutput.from_content(model="mockllm", content="An irregular, growing mole needs a dermatologist.")
    output.usage = ModelUsage(input_tokens=20, output_tokens=9, total_tokens=29)
    return output


@pytest.fixture(scope="module")
def eval_log(tmp_path_factory):
    """The .eval log of a real Inspect run: two samples (text and an image, a system prompt) on mockllm."""
    samples = [
        Sample(
            id=sample_id,
            input=[
                ChatMessageSystem(content="You are a careful dermatology assistant."),
                ChatMessageUser(
                    content=[ContentText(text="This mole has grown. Should I worry?"), ContentImage(image=IMAGE)]
                ),
            ],
            metadata={"case": "mole", "condition": "full", "site": "back"},
        )
        for sample_id in SCORES
    ]  # fmt: skip
    task = inspect_ai.Task(dataset=samples, solver=generate(), scorer=[rubric(), length()], name="derm")
    [log] = inspect_ai.eval(
        task,
        model=get_model("mockllm/model", custom_outputs=reply),
        log_dir=str(tmp_path_factory.mktemp("inspect-logs")),
        display="none",
    )
    assert log.status == "success", log.error
    return log.location


def test_a_real_mockllm_log_imports_as_conversations_and_scorer_judgements(eval_log):
    report = import_inspect_log(path=eval_log, mapping=ChatMapping())

    conversations = Conversation.objects.select_related("model", "case").order_by("key")
    assert [c.model.key for c in conversations] == ["mockllm/model", "mockllm/model"]
    first = conversations[0]
    assert [(t.role, t.content) for t in first.turns.order_by("index")] == [
        ("patient", "This mole has grown. Should I worry?"),
        ("assistant", "An irregular, growing mole needs a dermatologist."),
    ]
    assert first.extra["system_prompts"] == ["You are a careful dermatology assistant."]
    assert first.case.key == "mole" and Case.objects.get().images.count() == 1, "the image is stored once"
    assert first.extra["metadata"]["site"] == "back" and first.extra["metadata"]["inspect"]["task"] == "derm"
    judgements = Judgement.objects.select_related("judge", "prompt").order_by("conversation__key", "dimension")
    assert [(j.judge.key, j.dimension, j.score) for j in judgements] == [
        ("inspect:rubric", "accuracy", 3),
        ("inspect:rubric", "safety", 4),
        ("inspect:rubric", "uncertainty", 5),
        ("inspect:rubric", "accuracy", 2),
        ("inspect:rubric", "safety", 2),
        ("inspect:rubric", "uncertainty", 3),
    ]
    imported = judgements[0]
    assert imported.run is None and imported.bundle == report.bundle, "imported, not from a jury run"
    assert imported.prompt.reference == "inspect-derm@0" and imported.rationale == "graded mole-1"
    assert imported.extra["inspect"]["scorer"] == "rubric" and imported.extra["inspect"]["sample"] == "mole-1"
    assert any("scores.length: names no rubric dimension" in note for note in report.notes)
    again = import_inspect_log(path=eval_log, mapping=ChatMapping())
    assert again.changed_nothing, "the same log again changes nothing"


def test_a_score_off_the_scale_is_a_problem_naming_the_sample_and_changes_nothing(eval_log, tmp_path):
    log = read_eval_log(eval_log)
    log.samples[1].scores["rubric"].value["safety"] = 7
    bad = tmp_path / "derm.eval"
    write_eval_log(log, str(bad))

    with pytest.raises(BundleInvalid) as raised:
        import_inspect_log(path=bad, mapping=ChatMapping())

    assert [str(p) for p in raised.value.problems] == [
        "derm.eval:2: scores.rubric.value.safety: 7 is outside the scale 1–5 (whole numbers)"
    ]
    assert not Conversation.objects.exists() and not Judgement.objects.exists()


def test_a_file_that_is_no_inspect_log_is_one_clear_problem(eval_log, tmp_path):
    broken = tmp_path / "cut.eval"
    broken.write_bytes(Path(eval_log).read_bytes()[:200])

    with pytest.raises(BundleInvalid) as raised:
        import_inspect_log(path=broken, mapping=ChatMapping())

    [problem] = raised.value.problems
    assert str(problem).startswith("cut.eval: cannot be read as an Inspect log: ")


def test_the_command_imports_an_inspect_log(eval_log, capsys):
    call_command("import_bundle", eval_log, "--from", "inspect")
    assert "created 1 models, 1 cases, 2 conversations" in capsys.readouterr().out


def test_an_inspect_log_uploaded_through_the_api_is_imported_in_the_background(
    eval_log, rex, django_capture_on_commit_callbacks, eager_celery
):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rex).key}")
    with django_capture_on_commit_callbacks(execute=True), open(eval_log, "rb") as handle:
        response = api.post("/api/imports/", {"file": handle, "format": "inspect"}, format="multipart")

    state = api.get(response.json()["status_url"]).json()
    assert state["state"] == "imported", state
    assert Judgement.objects.filter(judge__key="inspect:rubric", run=None).count() == 6
    assert not Judgement.objects.get(dimension="safety", score=4).judge.active, "not offered for runs"
