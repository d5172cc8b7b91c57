"""Demo campaigns: one holding the demo bundle's simulated clinician annotations (for agreement and calibration),
one open for the demo clinicians to score in the workspace."""

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Annotation, Campaign, Conversation, Rubric
from annotation.services import create_campaign, rebuild_queue

CALIBRATION_KEY = "demo-calibration"
WORKSPACE_KEY = "demo-workspace"


@transaction.atomic
def ensure_demo_campaigns() -> list[str]:
    """Create the demo campaigns that are missing; return the keys created."""
    user_model = get_user_model()
    rubric = Rubric.objects.get(is_default=True)
    created = []
    if not Campaign.objects.filter(key=CALIBRATION_KEY).exists():
        imported = Annotation.objects.filter(campaign=None, rubric=rubric, status=Annotation.Status.SUBMITTED)
        campaign = create_campaign(
            key=CALIBRATION_KEY,
            name="Demo calibration set (simulated clinicians)",
            rubric=rubric,
            conversations=Conversation.objects.filter(annotations__in=imported).distinct(),
            clinicians=user_model.objects.filter(annotations__in=imported).distinct(),
            overlap=2,
            state=Campaign.State.LOCKED,
            instructions="Simulated clinician scores imported with the demo bundle.",
        )
        imported.update(campaign=campaign)
        rebuild_queue(campaign=campaign)
        created.append(CALIBRATION_KEY)
    if not Campaign.objects.filter(key=WORKSPACE_KEY).exists():
        unscored = Conversation.objects.filter(annotations=None, condition=Conversation.Condition.FULL)
        create_campaign(
            key=WORKSPACE_KEY,
            name="Demo workspace campaign",
            rubric=rubric,
            conversations=unscored.order_by("key")[:60],
            clinicians=user_model.objects.filter(username__in=["clinician1", "clinician2", "adjudicator"]),
            overlap=2,
            seed=7,
            instructions=(
                "Score the assistant's side of each conversation on the three dimensions. Use the anchors; write a "
                "rationale for any score of 2 or lower; flag the turns that drive your scores."
            ),
        )
        created.append(WORKSPACE_KEY)
    return created
