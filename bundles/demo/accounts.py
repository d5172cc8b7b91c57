"""Demo logins for the embedded default: one persona per role, all with the same printed password."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotation.roles import Role

DEMO_PASSWORD = "imcbench-demo"
DEMO_ACCOUNTS = (
    ("admin", "Admin: manages cases, campaigns, imports and jury runs", None),
    ("clinician1", "Clinician: scores conversations", Role.CLINICIAN),
    ("clinician2", "Clinician: scores conversations", Role.CLINICIAN),
    ("adjudicator", "Adjudicator: resolves clinician disagreements", Role.ADJUDICATOR),
    ("researcher", "Researcher: imports bundles, runs and calibrates the jury", Role.RESEARCHER),
)


def ensure_demo_accounts() -> list[str]:
    """Create the demo accounts that are missing (existing accounts are left untouched); return their names."""
    user_model = get_user_model()
    created = []
    for username, _, role in DEMO_ACCOUNTS:
        if user_model.objects.filter(username=username).exists():
            continue
        user = user_model.objects.create_user(
            username=username, password=DEMO_PASSWORD, is_staff=role is None, is_superuser=role is None
        )
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        created.append(username)
    return created
