"""Calibration on known truth: simulated judges (the real runner, the simulated provider) with a known bias.

Each conversation has a hidden true quality per dimension (``demo_quality``, as in the demo). Clinicians score
60 of the 100 conversations around it; the simulated judges score all of them through a real jury run. When the
whole jury is lenient, calibration must find the bias on the annotated conversations, beat the plain mean
(``equal``) on held-out cases, and score the 40 conversations no clinician saw without the bias. When the judges
are unbiased, it must not claim to beat ``equal``.
"""

import numpy as np
import pytest

from annotation.models import Annotation, Conversation
from jury import services
from jury.models import Judge, Judgement, JudgePrompt, JuryRun
from jury.results.calibration import calibrate_campaign, calibrated_scores
from tests.factories import CaseFactory, ConversationFactory, ModelUnderTestFactory, UserFactory, scored_campaign

pytestmark = pytest.mark.django_db
DIMENSIONS = ("safety", "accuracy", "uncertainty")
ANNOTATED = 60


def build_world(*, judges: list[tuple[float, float]], seed: int, capture, truth_range=(1.5, 3.6)) -> tuple:
    """100 conversations (50 cases × 2 models) with a hidden quality, 2 clinicians on 60, a jury run on all."""
    rng = np.random.default_rng(seed)
    models = [ModelUnderTestFactory(key=f"model-{m}", family=("Claude", "GPT")[m]) for m in range(2)]
    conversations, truth = [], {}
    for c in range(50):
        case = CaseFactory(key=f"case-{c:03d}")
        for model in models:
            quality = {d: float(rng.uniform(*truth_range)) for d in DIMENSIONS}
            conversation = ConversationFactory(
                case=case,
                model=model,
                extra={"demo_quality": quality},
                turns=[f"Case {c}: this patch on my shin is new.", f"{model.key} answers about case {c}."],
            )
            conversations.append(conversation)
            truth[conversation.pk] = quality
    clinicians = [UserFactory(username=f"doc{i}", roles=["clinician"]) for i in range(2)]
    annotated = conversations[:ANNOTATED]
    campaign = scored_campaign(
        key="recovery",
        conversations=annotated,
        clinicians=clinicians,
        score_of=lambda c, _: {d: int(np.clip(round(truth[c.pk][d] + rng.normal(0, 0.3)), 1, 5)) for d in DIMENSIONS},
    )
    services.sync_prompts()
    prompts = [JudgePrompt.objects.filter(dimension=d).exclude(template="").order_by("key").first() for d in DIMENSIONS]
    jury = [
        Judge.objects.create(
            key=f"sim-{index}",
            provider="simulated",
            model_id=f"simulated/sim-{index}",
            parameters={"simulated": {"bias": bias, "noise": noise, "seed": seed}},
        )
        for index, (bias, noise) in enumerate(judges)
    ]
    run = services.create_run(name="recovery", judges=jury, prompts=prompts)
    with capture(execute=True):
        services.launch_run(run=run)
    run.refresh_from_db()
    assert run.status == JuryRun.Status.COMPLETED
    assert Judgement.objects.filter(run=run, status="scored", simulated=True).count() == 100 * len(jury) * 3
    return campaign, truth


def mean_error(scores: dict, truth: dict, conversation_ids, dimension: str) -> float:
    return float(np.mean([scores[cid][dimension] - truth[cid][dimension] for cid in conversation_ids]))


def plain_mean(dimension: str) -> dict[int, dict[str, float]]:
    """The uncalibrated jury: the mean of the judges' scores per conversation."""
    rows = Judgement.objects.filter(dimension=dimension, status="scored").values_list("conversation_id", "score")
    by_conversation: dict[int, list[int]] = {}
    for conversation_id, score in rows:
        by_conversation.setdefault(conversation_id, []).append(score)
    return {cid: {dimension: float(np.mean(values))} for cid, values in by_conversation.items()}


def test_calibration_recovers_a_lenient_jurys_bias_and_beats_the_plain_mean(
    django_capture_on_commit_callbacks, eager_celery
):
    # Three lenient judges (+0.9, +1.0, +0.8), one of them noisy: the mean of the jury is biased by ~+0.9.
    campaign, truth = build_world(
        judges=[(0.9, 0.3), (1.0, 0.4), (0.8, 1.0)], seed=11, capture=django_capture_on_commit_callbacks
    )
    result = calibrate_campaign(campaign=campaign, seed=0)
    scores = calibrated_scores(fitted={d: report.calibration for d, report in result.reports.items()})
    unseen = [cid for cid in truth if not Annotation.objects.filter(conversation_id=cid).exists()]
    assert len(unseen) == 100 - ANNOTATED and Conversation.objects.count() == 100
    for dimension in DIMENSIONS:
        report = result.reports[dimension]
        assert report.chosen != "equal" and report.beats_equal, report.summary
        assert report.methods[report.chosen].mae.value < report.methods["equal"].mae.value
        assert report.methods[report.chosen].delta_mae.ci[1] < 0  # better than equal beyond its interval
        # The bias the jury carries on conversations no clinician scored, before and after calibration.
        before = mean_error(plain_mean(dimension), truth, unseen, dimension)
        after = mean_error(scores, truth, unseen, dimension)
        assert before > 0.6, before
        assert abs(after) < 0.25, after


def test_calibration_does_not_claim_to_beat_an_unbiased_jury(django_capture_on_commit_callbacks, eager_celery):
    # Unbiased judges over the whole scale: nothing for a calibration to correct.
    campaign, _ = build_world(
        judges=[(0.0, 0.4)] * 3, seed=12, capture=django_capture_on_commit_callbacks, truth_range=(1.0, 5.0)
    )
    result = calibrate_campaign(campaign=campaign, seed=0)
    for dimension in DIMENSIONS:
        report = result.reports[dimension]
        assert report.chosen == "equal" and not report.beats_equal, report.summary
        assert "does not beat" in report.summary or "equal" in report.summary
