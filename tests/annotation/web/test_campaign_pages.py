"""Campaign progress for admins and researchers; the adjudication queue and form for adjudicators."""

import re

import pytest
from django.urls import reverse

from annotation import selectors, services
from annotation.models import Adjudication, Annotation, AuditEvent, Rubric
from annotation.services import AnnotationInput
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db

FULL = {"safety": 4, "accuracy": 4, "uncertainty": 4}


@pytest.fixture
def disputed(carmen, chidi):
    campaign = services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory()],
        clinicians=[carmen, chidi],
        overlap=2,
    )
    for clinician, scores in ((carmen, FULL), (chidi, FULL | {"safety": 1})):
        services.submit(
            assignment=services.claim_next(clinician=clinician, campaign=campaign),
            clinician=clinician,
            version=0,
            data=AnnotationInput(scores=scores, rationale="because", flags=[]),
        )
    campaign.conversations.add(ConversationFactory(), ConversationFactory())
    return campaign


def test_progress_shows_coverage_clinicians_and_adjudication_backlog(client, rex, disputed):
    client.force_login(rex)
    html = client.get("/campaigns/pilot/").content.decode()
    assert "1 / 3</span> conversations scored by 2 clinicians" in html
    assert "2 / 6</span> annotations needed (3 × 2)" in html
    assert "1</span> awaiting adjudication" in html
    partial = client.get("/campaigns/pilot/", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="progress"') and 'hx-trigger="every 5s"' in partial


def test_progress_and_campaign_list_link_every_result_page_of_the_campaign(client, rex, adele, disputed):
    pages = ("/campaigns/pilot/agreement/", "/campaigns/pilot/calibration/", "/campaigns/pilot/leaderboard/",
             "/campaigns/pilot/leaderboard/snapshots/")  # fmt: skip
    client.force_login(rex)
    for url in ("/campaigns/pilot/", "/campaigns/"):
        html = client.get(url).content.decode()
        for page in pages:
            assert f'href="{page}"' in html, (url, page)
    client.force_login(adele)  # an adjudicator sees the campaigns but may not open their results
    assert "/campaigns/pilot/calibration/" not in client.get("/campaigns/").content.decode()


def test_progress_is_refused_to_clinicians_and_outsiders(client, carmen, otto, disputed):
    for user in (carmen, otto):
        client.force_login(user)
        assert client.get("/campaigns/pilot/").status_code == 403


def test_adjudicator_sees_all_scores_and_records_final_scores(client, adele, disputed):
    client.force_login(adele)
    queue = client.get("/campaigns/pilot/adjudication/").content.decode()
    [conversation_id] = selectors.needs_adjudication(campaign=disputed)
    assert f"/campaigns/pilot/adjudication/{conversation_id}/" in queue
    url = f"/campaigns/pilot/adjudication/{conversation_id}/"
    page = client.get(url).content.decode()
    assert "carmen" in page and "chidi" in page
    missing_note = client.post(url, {"score-safety": "3", "score-accuracy": "4", "score-uncertainty": "4"})
    assert "Write a note" in missing_note.content.decode()
    response = client.post(
        url,
        {
            "score-safety": "3",
            "score-accuracy": "4",
            "score-uncertainty": "4",
            "note": "Referral too slow but not dangerous.",
        },
    )
    assert response.status_code == 302
    assert Adjudication.objects.get().scores == {"safety": 3, "accuracy": 4, "uncertainty": 4}
    queue = client.get("/campaigns/pilot/adjudication/").content.decode()
    waiting, decided = queue.split('id="adjudicated-list"')
    assert url not in waiting and url in decided and "Nothing to adjudicate." in waiting
    assert "<strong>1 of 1</strong> adjudicated" in queue


def test_reopening_shows_the_recorded_decision_editable_with_its_history(client, adele, disputed):
    [conversation_id] = selectors.needs_adjudication(campaign=disputed)
    url = f"/campaigns/pilot/adjudication/{conversation_id}/"
    client.force_login(adele)
    decision = {"score-safety": "3", "score-accuracy": "4", "score-uncertainty": "4", "note": "Slow referral."}
    assert client.post(url, decision | {"version": "0"}).status_code == 302
    page = client.get(url).content.decode()
    assert 'name="score-safety" value="3" required checked' in page and ">Slow referral.</textarea>" in page
    assert 'name="version" value="1"' in page
    stale = client.post(url, decision | {"score-safety": "1", "note": "From an old tab.", "version": "0"})
    assert stale.status_code == 409 and "Nothing was overwritten" in stale.content.decode()
    assert (
        client.post(url, decision | {"score-safety": "2", "note": "Unsafe after all.", "version": "1"}).status_code
        == 302
    )
    page = client.get(url).content.decode()
    history = page.split('id="decision-history"')[1]
    assert history.index("Version 2") < history.index("Version 1")
    assert "Unsafe after all." in history and "Slow referral." in history
    assert [r.scores["safety"] for r in Adjudication.objects.get().revisions.all()] == [2, 3]


def test_the_queue_sorts_by_spread_then_id_and_names_no_model(
    client, adele, carmen, chidi, django_assert_max_num_queries
):
    first, second, third = (ConversationFactory() for _ in range(3))
    campaign = services.create_campaign(
        key="wide",
        name="Wide",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[first, second, third],
        clinicians=[carmen, chidi],
        overlap=2,
    )
    accuracy = {carmen: {first.pk: 4, second.pk: 4, third.pk: 4}, chidi: {first.pk: 2, second.pk: 1, third.pk: 2}}
    for clinician in (carmen, chidi):
        for _ in range(3):
            assignment = services.claim_next(clinician=clinician, campaign=campaign)
            services.submit(
                assignment=assignment,
                clinician=clinician,
                version=0,
                data=AnnotationInput(
                    scores=FULL | {"accuracy": accuracy[clinician][assignment.conversation_id]},
                    rationale="because",
                    flags=[],
                ),
            )
    rows = selectors.adjudication_queue(campaign=campaign)["pending"]
    assert [(row["conversation_id"], row["spread"], row["count"]) for row in rows] == [
        (second.pk, 3, 2),
        (first.pk, 2, 2),
        (third.pk, 2, 2),
    ]
    assert rows[0]["dimensions"] == [{"key": "accuracy", "name": "Accuracy", "scores": [1, 4], "spread": 3}]
    client.force_login(adele)
    with django_assert_max_num_queries(8):  # session, user, roles, campaign and four reads, whatever the rows
        html = client.get("/campaigns/wide/adjudication/").content.decode()
    positions = [html.index(f"/campaigns/wide/adjudication/{c.pk}/") for c in (second, first, third)]
    assert positions == sorted(positions) and "<strong>0 of 3</strong> adjudicated" in html
    for conversation in (first, second, third):
        assert conversation.model.name not in html and conversation.get_condition_display() not in html


def test_the_adjudication_form_of_a_blinded_campaign_names_no_model_family_or_condition(client, adele, disputed):
    [conversation_id] = selectors.needs_adjudication(campaign=disputed)
    conversation = disputed.conversations.select_related("model").get(pk=conversation_id)
    client.force_login(adele)
    html = client.get(f"/campaigns/pilot/adjudication/{conversation_id}/").content.decode()
    assert 'id="panel-image"' in html and 'id="panel-profile"' in html and 'id="turn-1"' in html
    for secret in (conversation.model.name, conversation.model.key, conversation.key):
        assert secret not in html, secret
    assert f">{conversation.model.family}<" not in html and conversation.get_condition_display() not in html


def test_clinicians_cannot_adjudicate(client, carmen, disputed):
    client.force_login(carmen)
    assert client.get("/campaigns/pilot/adjudication/").status_code == 403


def test_clinician_home_shows_their_queue(client, carmen, disputed):
    client.force_login(carmen)
    html = client.get("/").content.decode()
    assert "Pilot</strong>: 1 done, 0 in progress" in html


def test_an_undisputed_conversation_is_refused_with_a_form_error(client, adele, disputed):
    [undisputed, *_] = disputed.conversations.exclude(pk__in=selectors.needs_adjudication(campaign=disputed))
    client.force_login(adele)
    url = f"/campaigns/pilot/adjudication/{undisputed.pk}/"
    assert "not in adjudication" in client.get(url).content.decode()
    form = {"score-safety": "3", "score-accuracy": "4", "score-uncertainty": "4", "note": "Fine."}
    for posted in (form, form | {"override": "on"}):
        response = client.post(url, posted)
        assert response.status_code == 422
    assert "not in adjudication" in client.post(url, form).content.decode()
    assert "Only an admin" in client.post(url, form | {"override": "on"}).content.decode()
    assert not Adjudication.objects.exists()


def test_an_admin_overrides_the_rule_on_the_record(client, ada, disputed):
    [undisputed, *_] = disputed.conversations.exclude(pk__in=selectors.needs_adjudication(campaign=disputed))
    client.force_login(ada)
    url = f"/campaigns/pilot/adjudication/{undisputed.pk}/"
    assert 'name="override"' in client.get(url).content.decode()
    form = {"score-safety": "3", "score-accuracy": "4", "score-uncertainty": "4", "note": "Panel decision."}
    assert client.post(url, form | {"override": "on"}).status_code == 302
    assert AuditEvent.objects.get(action="adjudicate_override").actor == ada


def test_a_researcher_switches_the_design_on_the_campaign_page_and_recorded_probabilities_stay(client, rex, carmen):
    campaign = services.create_campaign(
        key="switch", name="Switch", rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(3)], clinicians=[carmen], overlap=1,
    )  # fmt: skip
    ids = sorted(campaign.conversations.values_list("pk", flat=True))
    services.record_selection(campaign=campaign, probabilities={ids[0]: 0.3, ids[1]: 1.0}, review=[ids[1]])
    client.force_login(rex)
    page = client.get(reverse("campaign-progress", args=[campaign.key]))
    assert b'id="sampling-design"' in page.content and b"2 selection probabilities recorded" in page.content
    url = reverse("campaign-design", args=[campaign.key])
    assert client.post(url, {"design": "stratified", "tag": "malignant"}).status_code == 302
    campaign.refresh_from_db()
    assert (campaign.sampling_design, campaign.sampling_tag) == ("stratified", "malignant")
    assert client.post(url, {"design": "active", "tag": "malignant"}).status_code == 302
    campaign.refresh_from_db()
    assert (campaign.sampling_design, campaign.sampling_tag) == ("active", "")  # a tag only stratifies
    assert selectors.selection_probabilities(campaign=campaign) == {ids[0]: 0.3, ids[1]: 1.0}
    refused = client.post(url, {"design": "greedy"})
    assert refused.status_code == 422 and b"design: Unknown sampling design" in refused.content
    campaign.refresh_from_db()
    assert campaign.sampling_design == "active"
    assert AuditEvent.objects.filter(action="set_sampling_design", target="switch").count() == 2


def test_progress_counts_annotations_against_the_overlap_and_says_when_no_time_was_recorded(client, rex, disputed):
    """A third clinician's annotation fills no slot of k = 2; imported annotations (no active time) say so."""
    conversation = disputed.conversations.order_by("pk").first()
    extra = UserFactory(username="third", roles=["clinician"])
    disputed.clinicians.add(extra)
    Annotation.objects.create(
        conversation=conversation, annotator=extra, rubric=disputed.rubric, campaign=disputed, status="submitted",
        scores=FULL,
    )  # fmt: skip
    Annotation.objects.filter(annotator__username="carmen").update(active_seconds=250)
    client.force_login(rex)
    html = client.get("/campaigns/pilot/").content.decode()
    assert "2 / 6</span> annotations needed (3 × 2)" in html
    assert "3 submitted annotations in all: 1 of them go beyond the 2 per conversation" in html
    assert "<td>2 or more</td><td>1</td>" in html
    rows = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", html, flags=re.S))
    assert "4 min 10 s" in rows["carmen"]
    assert "not recorded" in rows["chidi"] and "not recorded" in rows["third"]
