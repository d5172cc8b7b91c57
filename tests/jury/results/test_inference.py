"""Prediction-powered estimates of a seeded campaign in which the jury is lenient on one model only.

Three models over 48 cases; the clinicians score the full conversations of 30 cases. Both judges add a point to
"Flattered" (and nothing to the others), so a calibration pooled over the models cannot remove that bias: the
jury-only mean of Flattered stays too high, PPI moves to the clinicians, and the transport check flags it.
"""

import numpy as np
import pytest

from annotation import services
from jury.models import Judgement
from jury.results.calibration import fitted_from_artifact, save_calibration
from jury.results.inference import (
    LABELS,
    MIN_CLINICIAN,
    campaign_conversations,
    campaign_inference,
    refit_scheme,
    transport_warnings,
)
from jury.statistics import calibration
from tests.factories import (
    CaseFactory,
    ConversationFactory,
    JudgeFactory,
    JudgePromptFactory,
    ModelUnderTestFactory,
    UserFactory,
    scored_campaign,
)

pytestmark = pytest.mark.django_db
DIMENSIONS = ["safety", "accuracy", "uncertainty"]
MODELS = (("steady", "Steady", "Claude", 3.8, 0.0), ("flattered", "Flattered", "GPT", 2.6, 1.0),
          ("plain", "Plain", "Nova", 3.2, 0.0))  # fmt: skip
N_CASES, SCORED_CASES = 48, 30


def seed_biased_world(*, seed: int = 4, scored_cases: int = SCORED_CASES, thin_model: str | None = None):
    """The campaign, and each model's true clinician mean (the clinicians' expected score, before rounding)."""
    rng = np.random.default_rng(seed)
    models = {key: ModelUnderTestFactory(key=key, name=name, family=family) for key, name, family, *_ in MODELS}
    spec = {key: (level, bias) for key, _, _, level, bias in MODELS}
    judges = [JudgeFactory(key=key) for key in ("judge-a", "judge-b")]
    prompts = {d: JudgePromptFactory(dimension=d) for d in DIMENSIONS}
    truth, scored, judgements = {}, [], []
    for c in range(N_CASES):
        case = CaseFactory(key=f"case-{c:03d}", malignant=c % 2 == 0)
        for key, model in models.items():
            level, bias = spec[key]
            conversation = ConversationFactory(case=case, model=model)
            truth[conversation.pk] = level + rng.normal(0, 0.5)
            limit = 4 if key == thin_model else scored_cases
            if c < limit:
                scored.append(conversation)
            for dimension in DIMENSIONS:
                for judge, noise in zip(judges, (0.3, 0.6), strict=True):
                    score = int(np.clip(round(truth[conversation.pk] + bias + rng.normal(0, noise)), 1, 5))
                    judgements.append(
                        Judgement(conversation=conversation, judge=judge, prompt=prompts[dimension],
                                  dimension=dimension, score=score, simulated=True)
                    )  # fmt: skip
    Judgement.objects.bulk_create(judgements)
    clinicians = [UserFactory(username=f"doc{i}", roles=["clinician"]) for i in range(2)]
    campaign = scored_campaign(
        key="biased",
        conversations=scored,
        clinicians=clinicians,
        score_of=lambda c, _: {d: int(np.clip(round(truth[c.pk] + rng.normal(0, 0.3)), 1, 5)) for d in DIMENSIONS},
    )
    return campaign


@pytest.fixture
def biased(rex):
    campaign = seed_biased_world()
    artifact, _ = save_calibration(campaign=campaign, actor=rex)
    return campaign, artifact


def _clinician_mean(data, model: str) -> float:
    own = (data.labels.model == model) & (data.labels.condition == "full")
    return float(np.nanmean(np.asarray(data.labels.scores)[own].mean(1)))


def test_ppi_moves_a_flattered_model_toward_the_clinicians_and_the_transport_check_flags_it(biased):
    campaign, artifact = biased
    inference = campaign_inference(
        campaign=campaign, dimensions=DIMENSIONS, fitted=fitted_from_artifact(artifact), n_resamples=400,
        confidence=0.95, seed=0,
    )  # fmt: skip
    board = inference.leaderboard()
    data = inference.conversations.data
    rows = {e.name: e for e in board.table(kind="model", dimension="overall")}
    flattered = rows["Flattered"]
    clinicians = _clinician_mean(data, "Flattered")
    assert flattered.jury.value - clinicians > 0.2  # the pooled calibration leaves the jury too lenient
    assert abs(flattered.ppi.value - clinicians) < 0.5 * abs(flattered.jury.value - clinicians)
    assert flattered.ppi.ci[0] <= clinicians <= flattered.ppi.ci[1]
    assert flattered.transport_flag and flattered.transport.ci[1] < 0  # clinicians below the calibrated jury
    assert {w["model"] for w in transport_warnings(board)} >= {"Flattered"}
    assert flattered.n_clinician == SCORED_CASES and flattered.n_jury == N_CASES
    assert flattered.ess_ppi > flattered.n_clinician * 0.9 and flattered.lam is None  # λ is per dimension
    for name, row in rows.items():
        assert row.ppi.value is not None and row.clinicians.value is not None, name
    # The saved calibration's methods, refitted per resample, are said in the estimator record.
    record = inference.estimator()
    assert record["name"] == "ppi++" and record["version"] == 1 and record["estimators"] == LABELS
    assert record["calibration_refit"].startswith("case bootstrap, calibration refitted per resample: safety ")
    assert record["saved_methods"] == artifact.methods


def test_the_conversations_carry_every_judges_scores_and_the_adjudicated_figure_first(biased):
    from annotation.models import Adjudication

    campaign, _ = biased
    conversations = campaign_conversations(campaign=campaign, dimensions=DIMENSIONS)
    data = conversations.data
    # A column per judge and prompt (each dimension has its own prompt): two of the six score each dimension.
    assert data.judge_scores.shape == (N_CASES * 3, 6, 3) and len(conversations.judges) == 6
    assert ((~np.isnan(data.judge_scores)).sum(1) == 2).all()
    assert int((~np.isnan(np.asarray(data.labels.scores)).any(1)).sum()) == SCORED_CASES * 3
    first = conversations.conversation_ids[0]
    Adjudication.objects.create(
        campaign=campaign, conversation_id=first, adjudicator=UserFactory(), scores={"safety": 1, "accuracy": 5}
    )
    again = campaign_conversations(campaign=campaign, dimensions=DIMENSIONS).data
    assert list(np.asarray(again.labels.scores)[0, :2]) == [1.0, 5.0]


def test_each_saved_method_maps_onto_the_method_refitted_per_resample():
    judges = ["a|p@1", "b|p@1", "c|p@1"]
    fitted = {
        "safety": calibration.Calibration("weighted", ("a|p@1", "b|p@1"), (0.7, 0.3), intercept=0.2, slope=0.9),
        "accuracy": calibration.Calibration("best_single", ("a|p@1", "b|p@1"), (0.0, 1.0)),
        "uncertainty": calibration.Calibration("isotonic", ("a|p@1", "b|p@1"), (0.5, 0.5), knots_x=(1, 5),
                                               knots_y=(1, 5)),
    }  # fmt: skip
    scheme = refit_scheme(fitted=fitted, judges=judges, dimensions=DIMENSIONS)
    assert scheme.methods == {"safety": "affine", "accuracy": "affine", "uncertainty": "isotonic"}
    assert scheme.weights["safety"].tolist() == [0.7, 0.3, 0.0] and scheme.weights["accuracy"].tolist() == [0, 1, 0]
    assert "safety affine (saved weighted: its judge weights held)" in scheme.description
    equal = refit_scheme(
        fitted={d: calibration.Calibration("equal", tuple(judges), (1 / 3,) * 3) for d in DIMENSIONS},
        judges=judges,
        dimensions=DIMENSIONS,
    )
    assert set(equal.methods.values()) == {"equal"}
    none = refit_scheme(fitted=None, judges=judges, dimensions=DIMENSIONS)
    assert set(none.methods.values()) == {"affine"} and "no calibration saved" in none.description


def test_a_model_with_too_few_clinician_scores_gets_the_reason_not_a_number(rex):
    campaign = seed_biased_world(thin_model="plain")
    inference = campaign_inference(
        campaign=campaign, dimensions=DIMENSIONS, fitted=None, n_resamples=100, confidence=0.95, seed=0
    )
    plain = next(e for e in inference.leaderboard().table(dimension="overall") if e.name == "Plain")
    assert plain.n_clinician == 4 < MIN_CLINICIAN
    assert plain.ppi.value is None and plain.clinicians.value is None and plain.transport.value is None
    assert "fewer than the 10 needed" in plain.ppi.undefined_reason
    assert plain.jury.value is not None and plain.rank is None


def test_the_estimates_read_the_selection_probabilities_recorded_when_conversations_were_chosen(biased):
    campaign, _ = biased
    assert campaign_conversations(campaign=campaign, dimensions=DIMENSIONS).data.selection_probability is None
    members = sorted(campaign.conversations.values_list("pk", flat=True))
    recorded = {cid: (0.25 if i % 2 else 0.5) for i, cid in enumerate(members)}
    services.record_selection(campaign=campaign, probabilities=recorded)
    conversations = campaign_conversations(campaign=campaign, dimensions=DIMENSIONS)
    pi = conversations.data.selection_probability
    for cid, p in zip(conversations.conversation_ids, pi, strict=True):
        assert p == recorded[cid] if cid in recorded else np.isnan(p)
