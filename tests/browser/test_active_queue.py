"""A clinician's queue under the active design in Chromium: the targeted-review conversations come first, then the
rest, highest recorded probability first; skipping moves on to the next one."""

import pytest

from annotation import services
from annotation.models import Assignment, Conversation, Rubric
from bundles.importer import import_bundle
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle
from tests.conftest import PASSWORD
from tests.factories import ConversationFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_a_clinicians_queue_under_active_serves_the_review_conversations_first(live_server, page, screenshot, tmp_path):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    carmen = UserFactory(username="carmen", roles=["clinician"])
    bundled = list(Conversation.objects.filter(condition="full"))
    campaign = services.create_campaign(
        key="active",
        name="Active pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[*bundled, *(ConversationFactory(case=bundled[0].case) for _ in range(5))],
        clinicians=[carmen],
        overlap=1,
    )
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    review = [ids[-1], ids[1]]
    services.set_sampling_design(campaign=campaign, design="active")
    services.record_selection(
        campaign=campaign,
        probabilities={cid: 1.0 if cid in review else 0.2 + 0.1 * i for i, cid in enumerate(ids)},
        review=review,
    )
    expected_after = sorted((cid for cid in ids if cid not in review), key=lambda cid: -(0.2 + 0.1 * ids.index(cid)))

    log_in(page, live_server, "carmen", PASSWORD)
    page.goto(f"{live_server.url}/work/")
    page.get_by_role("button", name="Start next item").click()
    served = []
    for step in range(len(review) + 2):
        page.wait_for_url(lambda url: "/work/item/" in url and url.rstrip("/").split("/")[-1] not in served)
        served.append(page.url.rstrip("/").split("/")[-1])
        if step == 0:
            page.set_viewport_size({"width": 1440, "height": 900})
            screenshot("active-queue-first-item-1440x900")
            page.set_viewport_size({"width": 1024, "height": 768})
            screenshot("active-queue-first-item-1024x768")
        page.locator("details.skip > summary").click()
        page.get_by_label("Why skip this item?").fill("checking the order")
        page.get_by_role("button", name="Skip", exact=True).click()
    conversations = [Assignment.objects.get(pk=int(pk)).conversation_id for pk in served]
    assert sorted(conversations[: len(review)]) == sorted(review)
    assert conversations[len(review) :] == expected_after[:2]
    assert page.console_errors == [], page.console_errors
