"""Seeded worlds that several test modules share: campaigns scored by clinicians and judged by the jury."""

import numpy as np

from annotation import services
from annotation.default_rubric import DEFAULT_RUBRIC
from annotation.models import Annotation, Campaign, ModelUnderTest, Rubric
from jury.models import Judgement
from tests.factories import (
    CaseFactory,
    ConversationFactory,
    JudgeFactory,
    JudgePromptFactory,
    ModelUnderTestFactory,
    UserFactory,
    scored_campaign,
)

DIMENSIONS = ("safety", "accuracy", "uncertainty")


def seed_results_world(*, n_cases: int = 24, scored_cases: int = 20, seed: int = 5, score_ablations: bool = False):
    """Four models in two families over ``n_cases`` cases in all three conditions, scored by three simulated-style
    judges (one lenient by a point, one noisy, one close), and a locked campaign in which two clinicians scored the
    full conversations of the first ``scored_cases`` cases (and their ablated ones with ``score_ablations``). Beta
    Two is less safe on malignant cases; removing the image costs every model more than removing the record. The
    last case is the only pathology case, too few for a subgroup of its own."""
    rng = np.random.default_rng(seed)
    models = [ModelUnderTestFactory(key=key, name=name, family=family) for key, name, family, _ in MODELS]
    level = {model.pk: quality for model, (*_, quality) in zip(models, MODELS, strict=True)}
    clinicians = [UserFactory(username=f"clinician-{i}", roles=["clinician"]) for i in range(2)]
    judges = [JudgeFactory(key=key) for key in ("lenient", "noisy", "close")]
    prompts = {d: JudgePromptFactory(dimension=d) for d in DIMENSIONS}
    truth, full_scored = {}, []
    for c in range(n_cases):
        case = CaseFactory(
            key=f"case-{c:03d}",
            malignant=c % 3 == 0,
            rare=c % 4 == 1,
            modality=MODALITIES[c % len(MODALITIES)],
            specialty="pathology" if c == n_cases - 1 else SPECIALTIES[c % len(SPECIALTIES)],
        )
        difficulty = rng.normal(0, 0.3)
        for model in models:
            for condition, effect in ABLATION_EFFECT.items():
                conversation = ConversationFactory(case=case, model=model, condition=condition, turns=["Hello."])
                base = level[model.pk] + difficulty + effect
                truth[conversation.pk] = {
                    "safety": base - (0.6 if case.malignant and model.key == "beta-two" else 0.0),
                    "accuracy": base,
                    "uncertainty": base + 0.2,
                }
                if (condition == "full" or score_ablations) and c < scored_cases:
                    full_scored.append(conversation)
    judgements = []
    for conversation_id, values in truth.items():
        for dimension, value in values.items():
            for judge, (shift, noise) in zip(judges, ((1.0, 0.3), (0.0, 1.1), (0.0, 0.4)), strict=True):
                score = int(np.clip(round(value + shift + rng.normal(0, noise)), 1, 5))
                judgements.append(
                    Judgement(
                        conversation_id=conversation_id,
                        judge=judge,
                        prompt=prompts[dimension],
                        dimension=dimension,
                        score=score,
                        simulated=True,
                    )
                )
    Judgement.objects.bulk_create(judgements)
    campaign = scored_campaign(
        key="results",
        conversations=full_scored,
        clinicians=clinicians,
        score_of=lambda c, _: {d: int(np.clip(round(truth[c.pk][d] + rng.normal(0, 0.4)), 1, 5)) for d in DIMENSIONS},
    )
    return campaign


def default_rubric() -> Rubric:
    """The migration's rubric; transactional tests flush it, so make it again from the same definition."""
    rubric, created = Rubric.objects.get_or_create(
        key=DEFAULT_RUBRIC["key"], defaults={"name": DEFAULT_RUBRIC["name"], "is_default": True}
    )
    if created:
        for position, dimension in enumerate(DEFAULT_RUBRIC["dimensions"]):
            rubric.dimensions.create(key=dimension["key"], name=dimension["name"], position=position)
    return rubric


def campaign_with_clinician_scores(
    *,
    key: str = "calibration",
    clinicians: list | None = None,
    cases: int = 8,
    conversations_per_case: int = 3,
    seed: int = 0,
    constant_dimension: str | None = None,
) -> Campaign:
    """A campaign whose clinicians scored every conversation: a shared true score plus each clinician's noise
    and habit (the first is harsh, the last lenient). ``constant_dimension`` gets a 3 from everyone."""
    rng = np.random.default_rng(seed)
    rubric = default_rubric()
    dimensions = list(rubric.dimensions.values_list("key", flat=True))
    clinicians = clinicians or [UserFactory(username=f"clin-{key}-{i}", roles=["clinician"]) for i in range(3)]
    campaign = Campaign.objects.create(key=key, name=f"Campaign {key}", rubric=rubric, overlap=len(clinicians))
    campaign.clinicians.set(clinicians)
    habits = np.linspace(-0.6, 0.6, len(clinicians))
    for _case in range(cases):
        case = CaseFactory()
        for _ in range(conversations_per_case):
            conversation = ConversationFactory(case=case)
            campaign.conversations.add(conversation)
            truth = {dimension: rng.integers(1, 6) for dimension in dimensions}
            for clinician, habit in zip(clinicians, habits, strict=True):
                scores = {
                    dimension: int(np.clip(np.rint(truth[dimension] + habit + rng.normal(0, 0.6)), 1, 5))
                    for dimension in dimensions
                }
                if constant_dimension:
                    scores[constant_dimension] = 3
                Annotation.objects.create(
                    conversation=conversation,
                    annotator=clinician,
                    rubric=rubric,
                    campaign=campaign,
                    status=Annotation.Status.SUBMITTED,
                    scores=scores,
                )
    return campaign


MODELS = (("alpha-one", "Alpha One", "Alpha", 4.0), ("alpha-two", "Alpha Two", "Alpha", 3.4),
          ("beta-one", "Beta One", "Beta", 3.0), ("beta-two", "Beta Two", "Beta", 2.4))  # fmt: skip


MODALITIES = ("CT", "MR", "radiograph", "ultrasound")


SPECIALTIES = ("oncology", "neurology", "dermatology")


ABLATION_EFFECT = {"full": 0.0, "no_image": -0.8, "no_ehr": -0.3}


def seed_rich_world():
    """Enough clinician scores for every PPI figure of the page: 40 of 44 cases scored in all three conditions, so
    every model has at least 10 clinician-scored conversations on each side of every subgroup and ablation."""
    return seed_results_world(n_cases=44, scored_cases=40, score_ablations=True)


# Safety scores of the two judges on each targeted-review conversation of seed_review_world: why each is in review.
REVIEW_SCORES = (
    (1, 4),  # a judge at safety ≤ 2, and 3 points apart
    (2, 3),  # a judge at safety ≤ 2
    (3, 5),  # 2 points apart
    (2, 2),  # both judges at 2
)


def seed_review_world(*, clinicians, review: int = 4, others: int = 3, key: str = "review", overlap: int = 2):
    """An open, blinded campaign under the active design whose selection sent ``review`` conversations to targeted
    review (π = 1), cycling through ``REVIEW_SCORES``, and ``others`` the two judges agree are safe (4 and 5, π =
    0.5). Review items are served lowest judge score first, as a draw's recorded priority would have them. Each
    judgement carries a reason naming its judge and conversation. Returns the campaign and the review
    conversations' ids."""
    rubric = default_rubric()
    alpha = ModelUnderTest.objects.filter(key="alpha-one").first() or ModelUnderTestFactory(
        key="alpha-one", name="Alpha One", family="Alpha"
    )
    judges = [JudgeFactory(key="harsh-judge", name="Harsh judge"), JudgeFactory(key="kind-judge", name="Kind judge")]
    prompt = JudgePromptFactory(dimension="safety")
    conversations, judgements, flagged = [], [], []
    for i in range(review + others):
        case = CaseFactory(key=f"{key}-case-{i:03d}", title=f"Review case {i:03d}")
        conversation = ConversationFactory(case=case, model=alpha, condition="full", turns=["Hello.", "Wait and see."])
        scores = REVIEW_SCORES[i % len(REVIEW_SCORES)] if i < review else (4, 5)
        for judge, score in zip(judges, scores, strict=True):
            judgements.append(
                Judgement(
                    conversation=conversation, judge=judge, prompt=prompt, dimension="safety", score=score,
                    rationale=f"{judge.name} on {case.title}: safety {score}.",
                )
            )  # fmt: skip
        conversations.append(conversation)
        if i < review:
            flagged.append(conversation.pk)
    Judgement.objects.bulk_create(judgements)
    campaign = services.create_campaign(
        key=key, name=f"Campaign {key}", rubric=rubric, conversations=conversations, clinicians=clinicians,
        overlap=overlap,
    )  # fmt: skip
    services.set_sampling_design(campaign=campaign, design="active")
    lowest = {c.pk: min(j.score for j in judgements if j.conversation == c) for c in conversations}
    services.record_selection(
        campaign=campaign,
        probabilities={c.pk: 1.0 if c.pk in flagged else 0.5 for c in conversations},
        review=flagged,
        considered=[c.pk for c in conversations],
        priorities={cid: (5 - lowest[cid]) / 4 for cid in flagged},  # as the draw: the likelier unsafe first
    )
    return campaign, flagged
