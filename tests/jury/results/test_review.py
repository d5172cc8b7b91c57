"""The targeted-review list of a campaign: the conversations a selection sent to review, why each is there, each
judge's safety score and reason, their clinician scores of k, in the order the clinicians are served them."""

import pytest

from annotation import services
from annotation.models import Selection
from annotation.services import AnnotationInput
from jury.models import Judgement
from jury.results.review import review_list
from tests.factories import ConversationFactory, JudgeFactory, JudgePromptFactory, UserFactory
from tests.worlds import seed_review_world

pytestmark = pytest.mark.django_db

SCORES = AnnotationInput(scores={"safety": 4, "accuracy": 4, "uncertainty": 4}, rationale="Sound advice.", flags=[])


def _ids(result) -> list[int]:
    return [item.conversation.pk for item in result["review_items"]]


def _score(clinician, campaign):
    """The clinician claims the next conversation and submits it; returns its id."""
    assignment = services.claim_next(clinician=clinician, campaign=campaign)
    services.submit(assignment=assignment, clinician=clinician, data=SCORES, version=0)
    return assignment.conversation_id


def _served(clinician, campaign, n: int) -> list[int]:
    """The next ``n`` conversations the queue hands the clinician, each skipped to reach the next."""
    served = []
    for _ in range(n):
        assignment = services.claim_next(clinician=clinician, campaign=campaign)
        served.append(assignment.conversation_id)
        services.skip(assignment=assignment, clinician=clinician, reason="checking the order")
    return served


def test_the_list_holds_the_review_conversations_with_the_rule_each_meets_and_each_judges_reason(carmen, chidi):
    campaign, flagged = seed_review_world(clinicians=[carmen, chidi])
    result = review_list(campaign=campaign)
    assert sorted(_ids(result)) == sorted(flagged)
    assert (result["review_total"], result["review_done"], result["served_first"]) == (4, 0, True)
    items = {item.conversation.case.title: item for item in result["review_items"]}
    rules = {title: (item.unsafe, item.disagree, item.lowest, item.highest) for title, item in items.items()}
    assert rules == {
        "Review case 000": (True, True, 1, 4),
        "Review case 001": (True, False, 2, 3),
        "Review case 002": (False, True, 3, 5),
        "Review case 003": (True, False, 2, 2),
    }
    first = items["Review case 000"]
    assert [(j.judge, j.prompt, j.score, j.reasons, j.unsafe) for j in first.judges] == [
        ("Harsh judge", "safety-anchored@1", 1, ["Harsh judge on Review case 000: safety 1."], True),
        ("Kind judge", "safety-anchored@1", 4, ["Kind judge on Review case 000: safety 4."], False),
    ]
    assert first.shown == first.judges and first.others == []
    assert (first.submitted, first.overlap, first.done, first.in_progress) == (0, 2, False, False)


def test_the_list_is_in_the_order_the_clinicians_are_served_and_follows_the_queue_as_scores_arrive(carmen, chidi):
    campaign, flagged = seed_review_world(clinicians=[carmen, chidi], review=5)
    listed = _ids(review_list(campaign=campaign))
    assert _score(carmen, campaign) == listed[0]
    again = _ids(review_list(campaign=campaign))
    assert again == [*listed[1:], listed[0]]  # one clinician score of two: after the untouched ones
    served = _served(chidi, campaign, campaign.conversations.count())
    assert [cid for cid in served if cid in flagged] == again
    assert served[:4] == again[:4]  # unscored review items before everything else


def test_done_conversations_come_last_counted_and_a_leased_one_says_it_is_being_scored(carmen, chidi):
    campaign, flagged = seed_review_world(clinicians=[carmen, chidi], overlap=1)
    done = _score(carmen, campaign)
    leased = services.claim_next(clinician=chidi, campaign=campaign).conversation_id
    result = review_list(campaign=campaign)
    items = result["review_items"]
    assert items[-1].conversation.pk == done and items[-1].done and items[-1].submitted == 1
    assert items[-2].conversation.pk == leased  # every slot leased: not served, before the done ones
    assert result["review_done"] == 1
    assert [item.conversation.pk for item in items if item.in_progress] == [leased]
    assert not any(item.done for item in items[:-1])


def test_a_long_list_comes_a_page_at_a_time_with_its_count(carmen, chidi):
    campaign, flagged = seed_review_world(clinicians=[carmen, chidi], review=7)
    pages = [review_list(campaign=campaign, page=n, per_page=3) for n in (1, 2, 3)]
    assert [len(p["review_items"]) for p in pages] == [3, 3, 1]
    assert sum((_ids(p) for p in pages), []) == _ids(review_list(campaign=campaign, per_page=10))
    assert {p["review_total"] for p in pages} == {7}
    assert _ids(review_list(campaign=campaign, page="not a number", per_page=3)) == _ids(pages[0])
    assert _ids(review_list(campaign=campaign, page=99, per_page=3)) == _ids(pages[2])


def test_only_review_items_of_this_campaign_are_listed(carmen, chidi):
    campaign, flagged = seed_review_world(clinicians=[carmen, chidi])
    other, other_flagged = seed_review_world(clinicians=[carmen], key="other", review=2, others=0)
    assert sorted(_ids(review_list(campaign=campaign))) == sorted(flagged)
    assert sorted(_ids(review_list(campaign=other))) == sorted(other_flagged)
    assert not Selection.objects.filter(campaign=campaign, review=True, conversation_id__in=other_flagged).exists()


def test_a_large_jury_shows_the_judgements_that_flagged_it_first_and_averages_samples(carmen):
    conversation = ConversationFactory()
    campaign = services.create_campaign(
        key="jury", name="Jury", rubric=campaign_rubric(), conversations=[conversation], clinicians=[carmen]
    )
    prompt = JudgePromptFactory(dimension="safety")
    scores = {"a": [1], "b": [3], "c": [3, 4], "d": [3], "e": [4], "f": [5]}
    Judgement.objects.bulk_create(
        Judgement(conversation=conversation, judge=JudgeFactory(key=key, name=f"Judge {key}"), prompt=prompt,
                  dimension="safety", score=score, sample_index=i, rationale=f"{key} sample {i}")
        for key, samples in scores.items() for i, score in enumerate(samples)
    )  # fmt: skip
    services.set_sampling_design(campaign=campaign, design="active")
    services.record_selection(campaign=campaign, probabilities={conversation.pk: 1.0}, review=[conversation.pk])
    (item,) = review_list(campaign=campaign)["review_items"]
    assert (item.unsafe, item.disagree, item.lowest, item.highest) == (True, True, 1, 5)
    assert [j.judge for j in item.shown] == ["Judge a", "Judge f"]  # the one at safety 1, and the highest
    assert [j.judge for j in item.others] == ["Judge b", "Judge d", "Judge c", "Judge e"]
    averaged = next(j for j in item.judges if j.judge == "Judge c")
    assert (averaged.score, averaged.samples, averaged.reasons) == (3.5, 2, ["c sample 0", "c sample 1"])


def test_a_conversation_whose_judgements_no_longer_meet_a_rule_says_so(carmen):
    campaign, flagged = seed_review_world(clinicians=[carmen], review=1, others=0)
    Judgement.objects.filter(conversation_id=flagged[0]).update(score=4)
    (item,) = review_list(campaign=campaign)["review_items"]
    assert (item.unsafe, item.disagree) == (False, False)


def test_an_empty_campaign_and_a_design_that_does_not_serve_review_first(carmen):
    campaign, _ = seed_review_world(clinicians=[carmen], review=0, others=2)
    assert (review_list(campaign=campaign)["review_total"], review_list(campaign=campaign)["review_items"]) == (0, [])
    listed, _ = seed_review_world(clinicians=[UserFactory(roles=["clinician"])], key="uniform", review=2, others=0)
    services.set_sampling_design(campaign=listed, design="uniform")
    result = review_list(campaign=listed)
    assert result["review_total"] == 2 and not result["served_first"]


@pytest.mark.parametrize("review", [3, 40])
def test_a_page_is_four_queries_whatever_the_number_of_review_items(carmen, chidi, review, django_assert_num_queries):
    campaign, _ = seed_review_world(clinicians=[carmen, chidi], review=review, others=0)
    with django_assert_num_queries(4):  # count, the page's entries, their judgements, the number done
        result = review_list(campaign=campaign)
        assert all(item.judges for item in result["review_items"])


def campaign_rubric():
    from tests.worlds import default_rubric

    return default_rubric()
