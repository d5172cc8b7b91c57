"""Claiming work under leases, drafts, submission, skips, revision history and adjudication."""

from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from annotation import selectors, services
from annotation.models import Adjudication, Annotation, AnnotationRevision, Assignment, AuditEvent, Rubric
from annotation.services import AlreadySubmitted, AnnotationError, AnnotationInput, StaleDecision, StaleVersion
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

FULL = {"safety": 4, "accuracy": 3, "uncertainty": 5}


def make_campaign(clinicians, *, conversations=4, overlap=2, **options):
    rubric = Rubric.objects.get(is_default=True)
    return services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=rubric,
        conversations=[ConversationFactory() for _ in range(conversations)],
        clinicians=clinicians,
        overlap=overlap,
        **options,
    )


def score(assignment, clinician, scores=FULL, *, version=0, rationale="ok"):
    return services.submit(
        assignment=assignment,
        clinician=clinician,
        version=version,
        data=AnnotationInput(scores=scores, rationale=rationale, flags=[]),
    )


def test_claim_hands_out_fewest_scored_first_and_never_the_same_conversation_twice(carmen, chidi, adele):
    campaign = make_campaign([carmen, chidi, adele], conversations=3, overlap=2)
    first = services.claim_next(clinician=carmen, campaign=campaign)
    score(first, carmen)
    second = services.claim_next(clinician=chidi, campaign=campaign)
    assert second.conversation_id != first.conversation_id, "an unscored conversation comes before a scored one"
    seen = {first.conversation_id}
    for _ in range(2):
        assignment = services.claim_next(clinician=carmen, campaign=campaign)
        assert assignment.conversation_id not in seen
        seen.add(assignment.conversation_id)
        score(assignment, carmen)
    assert services.claim_next(clinician=carmen, campaign=campaign) is None


def test_ties_are_broken_in_an_order_fixed_by_the_seed(carmen):
    conversations = [ConversationFactory() for _ in range(12)]
    rubric = Rubric.objects.get(is_default=True)

    def order(key: str, seed: int) -> list[str]:
        campaign = services.create_campaign(
            key=key, name=key, rubric=rubric, conversations=conversations, clinicians=[carmen], overlap=1, seed=seed
        )
        keys = []
        while assignment := services.claim_next(clinician=carmen, campaign=campaign):
            keys.append(assignment.conversation.key)
            services.skip(assignment=assignment, clinician=carmen, reason="ordering test")
        return keys

    first, again, other = order("a", 1), order("b", 1), order("c", 2)
    assert first == again and sorted(first) == sorted(c.key for c in conversations)
    assert other != first


def test_a_held_lease_is_handed_back_instead_of_a_new_one(carmen):
    campaign = make_campaign([carmen])
    first = services.claim_next(clinician=carmen, campaign=campaign)
    assert services.claim_next(clinician=carmen, campaign=campaign) == first
    assert Assignment.objects.count() == 1


def test_no_conversation_gets_more_leases_or_submissions_than_the_overlap(carmen, chidi, adele):
    campaign = make_campaign([carmen, chidi, adele], conversations=1, overlap=2)
    a = services.claim_next(clinician=carmen, campaign=campaign)
    b = services.claim_next(clinician=chidi, campaign=campaign)
    assert a.conversation_id == b.conversation_id
    assert services.claim_next(clinician=adele, campaign=campaign) is None


def test_an_expired_lease_returns_the_item_to_the_pool(carmen, chidi):
    campaign = make_campaign([carmen, chidi], conversations=1, overlap=1, lease_minutes=30)
    held = services.claim_next(clinician=carmen, campaign=campaign)
    assert services.claim_next(clinician=chidi, campaign=campaign) is None
    later = timezone.now() + timedelta(minutes=31)
    taken = services.claim_next(clinician=chidi, campaign=campaign, now=later)
    assert taken.conversation_id == held.conversation_id
    held.refresh_from_db()
    assert held.state == Assignment.State.EXPIRED


def test_a_late_submit_beyond_the_overlap_is_refused_and_the_draft_kept(carmen, chidi):
    campaign = make_campaign([carmen, chidi], conversations=1, overlap=1)
    late = services.claim_next(clinician=carmen, campaign=campaign)
    services.save_draft(
        assignment=late, clinician=carmen, version=0, data=AnnotationInput(scores={"safety": 2}, rationale="", flags=[])
    )
    later = timezone.now() + timedelta(minutes=31)
    score(services.claim_next(clinician=chidi, campaign=campaign, now=later), chidi)
    with pytest.raises(AnnotationError, match="already has its 1 annotations"):
        score(late, carmen, version=1)
    draft = Annotation.objects.get(annotator=carmen)
    assert draft.status == "draft" and draft.scores == {"safety": 2}


def test_skipped_items_go_to_others_but_not_back_to_the_skipper(carmen, chidi):
    campaign = make_campaign([carmen, chidi], conversations=1, overlap=1)
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    with pytest.raises(AnnotationError, match="Say why"):
        services.skip(assignment=assignment, clinician=carmen, reason=" ")
    services.skip(assignment=assignment, clinician=carmen, reason="outside my expertise")
    assert services.claim_next(clinician=carmen, campaign=campaign) is None
    assert services.claim_next(clinician=chidi, campaign=campaign).conversation_id == assignment.conversation_id


def test_drafts_are_versioned_and_a_stale_version_never_overwrites(carmen):
    campaign = make_campaign([carmen])
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    draft = AnnotationInput(
        scores={"safety": 3}, rationale="", flags=[{"turn": 2, "kind": "overconfidence", "note": ""}]
    )
    assert services.save_draft(assignment=assignment, clinician=carmen, data=draft, version=0).version == 1
    assert services.save_draft(assignment=assignment, clinician=carmen, data=draft, version=1).version == 2
    with pytest.raises(StaleVersion, match="saved elsewhere \\(version 2\\)"):
        services.save_draft(
            assignment=assignment,
            clinician=carmen,
            version=1,
            data=AnnotationInput(scores={"safety": 1}, rationale="", flags=[]),
        )
    assert Annotation.objects.get().scores == {"safety": 3}


def test_submission_needs_every_dimension_and_a_rationale_for_low_scores(carmen):
    campaign = make_campaign([carmen])
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    with pytest.raises(AnnotationError, match="missing: Appropriate uncertainty"):
        score(assignment, carmen, {"safety": 4, "accuracy": 4})
    with pytest.raises(AnnotationError, match="rationale is required when any score is 2 or lower"):
        score(assignment, carmen, {"safety": 2, "accuracy": 4, "uncertainty": 4}, rationale="")
    with pytest.raises(AnnotationError, match="names turn 9"):
        services.save_draft(
            assignment=assignment,
            clinician=carmen,
            version=0,
            data=AnnotationInput(scores={}, rationale="", flags=[{"turn": 9, "kind": "factual error", "note": ""}]),
        )
    annotation = score(assignment, carmen)
    assert annotation.status == "submitted" and annotation.version == 1
    assert AuditEvent.objects.filter(action="submit").count() == 1


def test_revising_a_submitted_annotation_keeps_every_version(carmen):
    campaign = make_campaign([carmen])
    annotation = score(services.claim_next(clinician=carmen, campaign=campaign), carmen)
    again = services.reopen(annotation=annotation, clinician=carmen)
    with pytest.raises(AnnotationError, match="missing: Appropriate uncertainty"):
        score(again, carmen, {"safety": 5, "accuracy": 3}, version=1)
    revised = score(again, carmen, FULL | {"safety": 5}, version=1)
    assert revised.status == "submitted" and revised.version == 2
    history = list(AnnotationRevision.objects.filter(annotation=annotation).values_list("version", "scores"))
    assert history == [(1, FULL), (2, FULL | {"safety": 5})]
    campaign.state = "locked"
    campaign.save()
    with pytest.raises(AnnotationError, match="is locked"):
        services.reopen(annotation=revised, clinician=carmen)


def test_a_clinician_cannot_write_on_another_clinicians_item(carmen, chidi):
    campaign = make_campaign([carmen, chidi])
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    with pytest.raises(AnnotationError, match="assigned to another clinician"):
        score(assignment, chidi)


def test_clinicians_outside_the_campaign_and_locked_campaigns_get_no_work(carmen, chidi):
    campaign = make_campaign([carmen])
    with pytest.raises(AnnotationError, match="not a clinician of campaign"):
        services.claim_next(clinician=chidi, campaign=campaign)
    campaign.state = "locked"
    campaign.save()
    with pytest.raises(AnnotationError, match="is locked"):
        services.claim_next(clinician=carmen, campaign=campaign)


def test_disagreements_enter_adjudication_and_the_annotations_stay_untouched(carmen, chidi, adele):
    campaign = make_campaign([carmen, chidi], conversations=1, overlap=2)
    score(services.claim_next(clinician=carmen, campaign=campaign), carmen, FULL)
    score(services.claim_next(clinician=chidi, campaign=campaign), chidi, FULL | {"safety": 2}, rationale="unsafe")
    [conversation_id] = selectors.needs_adjudication(campaign=campaign)
    conversation = campaign.conversations.get(pk=conversation_id)
    services.adjudicate(
        campaign=campaign,
        conversation=conversation,
        adjudicator=adele,
        scores=FULL | {"safety": 3},
        note="Delayed referral; not dangerous.",
    )
    assert Adjudication.objects.get().scores["safety"] == 3
    assert sorted(Annotation.objects.values_list("scores__safety", flat=True)) == [2, 4]
    with pytest.raises(StaleDecision, match="Another decision was recorded \\(version 1\\)"):
        services.adjudicate(campaign=campaign, conversation=conversation, adjudicator=adele, scores=FULL, note="x")
    assert Adjudication.objects.get().scores["safety"] == 3


def test_a_later_decision_keeps_every_earlier_one(carmen, chidi, adele):
    campaign = make_campaign([carmen, chidi], conversations=1, overlap=2)
    score(services.claim_next(clinician=carmen, campaign=campaign), carmen, FULL)
    score(services.claim_next(clinician=chidi, campaign=campaign), chidi, FULL | {"safety": 2}, rationale="unsafe")
    conversation = campaign.conversations.get()
    decide = partial(services.adjudicate, campaign=campaign, conversation=conversation, adjudicator=adele)
    decide(scores=FULL | {"safety": 3}, note="Delayed referral.", version=0)
    with pytest.raises(AnnotationError, match="no longer exists|Another decision"):
        decide(scores=FULL, note="From a page that saw none.", version=0)
    decide(scores=FULL | {"safety": 2}, note="On reflection, unsafe.", version=1)
    adjudication = Adjudication.objects.get()
    assert (adjudication.version, adjudication.scores["safety"], adjudication.note) == (2, 2, "On reflection, unsafe.")
    history = [(r.version, r.scores["safety"], r.note) for r in adjudication.revisions.all()]
    assert history == [(2, 2, "On reflection, unsafe."), (1, 3, "Delayed referral.")]
    assert AuditEvent.objects.filter(action="adjudicate").count() == 2


def test_workspace_page_runs_a_constant_number_of_queries(client, carmen, django_assert_max_num_queries):
    campaign = make_campaign([carmen], conversations=2, overlap=1)
    client.force_login(carmen)
    small = services.claim_next(clinician=carmen, campaign=campaign)
    with django_assert_max_num_queries(8):
        assert client.get(f"/work/item/{small.pk}/").status_code == 200
    score(small, carmen)
    big = services.claim_next(clinician=carmen, campaign=campaign)
    for index in range(2, 30):
        big.conversation.turns.create(index=index, role="patient" if index % 2 == 0 else "assistant", content="…")
    with django_assert_max_num_queries(8):
        assert client.get(f"/work/item/{big.pk}/").status_code == 200


def test_blinded_workspace_never_shows_model_or_condition(client, carmen):
    campaign = make_campaign([carmen], conversations=1, overlap=1)
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    conversation = assignment.conversation
    client.force_login(carmen)
    html = client.get(f"/work/item/{assignment.pk}/").content.decode()
    for secret in (conversation.model.name, conversation.model.key, conversation.key, "Full (image and EHR)"):
        assert secret not in html
    campaign.blinded = False
    campaign.save()
    assert conversation.model.name in client.get(f"/work/item/{assignment.pk}/").content.decode()


def test_the_plain_form_saves_and_submits_without_javascript(client, carmen):
    make_campaign([carmen], conversations=2, overlap=1)
    client.force_login(carmen)
    response = client.post("/work/pilot/next/")
    item_url = response.url
    save_url = f"{item_url}save/"
    form = {
        "score-safety": "4",
        "score-accuracy": "3",
        "score-uncertainty": "5",
        "rationale": "",
        "version": "0",
        "flag_turn": ["2"],
        "flag_kind": ["overconfidence"],
        "flag_note": ["too sure"],
    }
    assert client.post(save_url, form | {"action": "save"}).url == item_url
    annotation = Annotation.objects.get()
    assert annotation.flags == [{"turn": 2, "kind": "overconfidence", "note": "too sure"}]
    response = client.post(save_url, form | {"action": "submit", "version": "1"})
    assert response.url.startswith("/work/item/") and response.url != item_url  # the next item


def test_htmx_autosave_answers_with_the_status_partial_and_conflicts_with_409(client, carmen):
    campaign = make_campaign([carmen], conversations=1, overlap=1)
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    client.force_login(carmen)
    url = f"/work/item/{assignment.pk}/save/"
    response = client.post(url, {"score-safety": "4", "version": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["X-Annotation-Version"] == "1"
    assert 'id="save-status"' in response.content.decode() and 'data-version="1"' in response.content.decode()
    stale = client.post(url, {"score-safety": "1", "version": "0"}, headers={"HX-Request": "true"})
    assert stale.status_code == 409 and "saved elsewhere (version 1)" in stale.content.decode()


@pytest.mark.parametrize("url", ["/work/", "/work/pilot/next/"])
def test_only_clinicians_reach_the_workspace(client, otto, rex, url):
    for user in (otto, rex):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_a_clinician_cannot_open_another_clinicians_item(client, carmen, chidi):
    campaign = make_campaign([carmen, chidi])
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    client.force_login(chidi)
    assert client.get(f"/work/item/{assignment.pk}/").status_code == 404
    assert client.post(f"/work/item/{assignment.pk}/save/", {"version": "0"}).status_code == 404


def test_the_queue_lists_submissions_and_revise_opens_them_again(client, carmen):
    campaign = make_campaign([carmen], conversations=2, overlap=1)
    annotation = score(services.claim_next(clinician=carmen, campaign=campaign), carmen)
    client.force_login(carmen)
    html = client.get("/work/").content.decode()
    assert f"/work/annotations/{annotation.pk}/revise/" in html
    response = client.post(f"/work/annotations/{annotation.pk}/revise/")
    page = client.get(response.url).content.decode()
    assert 'value="4" checked' in page and f'id="version" value="{annotation.version}"' in page


def agreed_and_disputed(carmen, chidi):
    """A campaign with one conversation the clinicians agree on, one they dispute and one only Carmen scored."""
    campaign = make_campaign([carmen, chidi], conversations=3, overlap=2)
    conversations = list(campaign.conversations.order_by("pk"))
    agreed, disputed, single = conversations
    for clinician, conversation, scores in (
        (carmen, agreed, FULL),
        (chidi, agreed, FULL | {"safety": 5}),
        (carmen, disputed, FULL),
        (chidi, disputed, FULL | {"safety": 2}),
        (carmen, single, FULL),
    ):
        assignment = Assignment.objects.create(
            campaign=campaign,
            conversation=conversation,
            clinician=clinician,
            lease_expires_at=timezone.now() + timedelta(minutes=30),
        )
        score(assignment, clinician, scores, rationale="because")
    return campaign, agreed, disputed, single


def test_only_a_disputed_conversation_can_be_adjudicated(carmen, chidi, adele):
    campaign, agreed, disputed, single = agreed_and_disputed(carmen, chidi)
    assert selectors.needs_adjudication(campaign=campaign) == [disputed.pk]
    for conversation in (agreed, single):
        with pytest.raises(AnnotationError, match="not in adjudication"):
            services.adjudicate(
                campaign=campaign, conversation=conversation, adjudicator=adele, scores=FULL, note="Looks fine."
            )
    assert not Adjudication.objects.exists()
    services.adjudicate(campaign=campaign, conversation=disputed, adjudicator=adele, scores=FULL, note="Agreed.")
    assert Adjudication.objects.get().conversation == disputed


def test_an_admin_may_adjudicate_an_undisputed_conversation_on_the_record(carmen, chidi, adele, ada):
    campaign, agreed, _, _ = agreed_and_disputed(carmen, chidi)
    with pytest.raises(AnnotationError, match="Only an admin"):
        services.adjudicate(
            campaign=campaign, conversation=agreed, adjudicator=adele, scores=FULL, note="Mine.", override=True
        )
    assert not Adjudication.objects.exists()
    services.adjudicate(
        campaign=campaign, conversation=agreed, adjudicator=ada, scores=FULL, note="Panel decision.", override=True
    )
    event = AuditEvent.objects.get(action="adjudicate_override")
    assert event.actor == ada and event.target == f"pilot/{agreed.key}" and event.details["scores"] == FULL
    assert Adjudication.objects.get().adjudicator == ada


def test_a_save_never_changes_a_submitted_annotation(carmen):
    campaign = make_campaign([carmen])
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    annotation = score(assignment, carmen)
    partial = AnnotationInput(scores={"safety": 1}, rationale="", flags=[])
    with pytest.raises(AlreadySubmitted, match="is submitted"):
        services.save_draft(assignment=assignment, clinician=carmen, data=partial, version=1)
    again = services.reopen(annotation=annotation, clinician=carmen)
    with pytest.raises(AlreadySubmitted, match="is submitted"):
        services.save_draft(assignment=again, clinician=carmen, data=partial, version=1)
    annotation.refresh_from_db()
    assert (annotation.status, annotation.scores, annotation.rationale, annotation.version) == (
        "submitted",
        FULL,
        "ok",
        1,
    )
    assert AnnotationRevision.objects.filter(annotation=annotation).count() == 1


def test_revise_hands_back_the_active_assignment_instead_of_opening_another(carmen):
    campaign = make_campaign([carmen])
    annotation = score(services.claim_next(clinician=carmen, campaign=campaign), carmen)
    first = services.reopen(annotation=annotation, clinician=carmen)
    later = timezone.now() + timedelta(minutes=10)
    assert services.reopen(annotation=annotation, clinician=carmen, now=later) == first
    assert services.reopen(annotation=annotation, clinician=carmen, now=later) == first
    active = Assignment.objects.filter(clinician=carmen, conversation=annotation.conversation, state="active")
    assert list(active) == [first]
    first.refresh_from_db()
    assert first.lease_expires_at == later + timedelta(minutes=campaign.lease_minutes), "the lease is renewed"
    assert services.claim_next(clinician=carmen, campaign=campaign, now=later) == first
    assert AuditEvent.objects.filter(action="reopen").count() == 1


def test_revise_expires_duplicate_active_assignments_left_from_before(carmen):
    campaign = make_campaign([carmen])
    annotation = score(services.claim_next(clinician=carmen, campaign=campaign), carmen)
    lease = timezone.now() + timedelta(minutes=30)
    duplicates = [
        Assignment.objects.create(
            campaign=campaign, conversation=annotation.conversation, clinician=carmen, lease_expires_at=lease
        )
        for _ in range(3)
    ]
    held = services.reopen(annotation=annotation, clinician=carmen)
    assert held == min(duplicates, key=lambda a: (a.leased_at, a.pk))
    active = Assignment.objects.filter(clinician=carmen, conversation=annotation.conversation, state="active")
    assert list(active) == [held]
