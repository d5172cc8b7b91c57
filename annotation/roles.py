"""Who may do what, decided here and nowhere else. Every view and API endpoint checks through this module.

Roles are Django groups (``clinician``, ``adjudicator``, ``researcher``); staff users are admins and hold
every role. Anyone else (an outsider) is refused everywhere. ``ALLOWED`` says which roles may take each
``Action``; views ask ``action_required``/``may``, templates read ``may`` (the context processor), and README's
roles table says the same. Which object a user may open (their own item, a case of a campaign) is decided by the
view's selector on top of this.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission


class Role(StrEnum):
    CLINICIAN = "clinician"
    ADJUDICATOR = "adjudicator"
    RESEARCHER = "researcher"
    ADMIN = "admin"


GROUP_ROLES = (Role.CLINICIAN, Role.ADJUDICATOR, Role.RESEARCHER)


class Action(StrEnum):
    """What a person does in the studio; the value is the name templates test (``"run_jury" in may``)."""

    SCORE = "score"  # claim, score, submit and revise conversations of their own campaigns
    ADJUDICATE = "adjudicate"  # settle disputed scores (blinded campaigns stay blinded)
    SEE_CAMPAIGNS = "see_campaigns"  # the campaign list
    BROWSE_CASES = "browse_cases"  # cases and conversation pages, which name each conversation's model and condition
    SEE_RESULTS = "see_results"  # progress, agreement, calibration, leaderboard, snapshots
    PUBLISH_RESULTS = "publish_results"  # save a calibration, publish a leaderboard snapshot
    RUN_JURY = "run_jury"  # create, estimate, launch, cancel and retry jury runs
    GENERATE = "generate"  # generation runs, and simulated endpoints for models that have none
    IMPORT_BUNDLES = "import_bundles"  # upload a bundle and follow its import
    EXPORT = "export"  # scores, judgements and annotations as files
    USE_API = "use_api"  # the token API, its docs, and one's own token
    ADMINISTER = "administer"  # the Django admin, original image files, campaign overrides


RESEARCH = frozenset({Role.RESEARCHER, Role.ADMIN})
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.SCORE: frozenset({Role.CLINICIAN}),
    Action.ADJUDICATE: frozenset({Role.ADJUDICATOR}),
    Action.SEE_CAMPAIGNS: frozenset({Role.ADJUDICATOR}) | RESEARCH,
    Action.BROWSE_CASES: RESEARCH,
    Action.SEE_RESULTS: RESEARCH,
    Action.PUBLISH_RESULTS: RESEARCH,
    Action.RUN_JURY: RESEARCH,
    Action.GENERATE: RESEARCH,
    Action.IMPORT_BUNDLES: RESEARCH,
    Action.EXPORT: RESEARCH,
    Action.USE_API: RESEARCH,
    Action.ADMINISTER: frozenset({Role.ADMIN}),
}


def roles_of(user) -> frozenset[Role]:
    """The roles a user holds; cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_imcbench_roles", None)
    if cached is not None:
        return cached
    if user.is_staff or user.is_superuser:
        roles = frozenset(Role)
    else:
        names = set(user.groups.values_list("name", flat=True))
        roles = frozenset(role for role in GROUP_ROLES if role.value in names)
    user._imcbench_roles = roles
    return roles


def has_role(user, *roles: Role) -> bool:
    """True when the user holds at least one of ``roles`` (admins hold all)."""
    return bool(roles_of(user) & set(roles))


def may(user, action: Action) -> bool:
    """True when the user holds a role that ``ALLOWED`` lets take ``action``."""
    return bool(roles_of(user) & ALLOWED[action])


def actions_of(user) -> frozenset[Action]:
    """Every action the user may take."""
    roles = roles_of(user)
    return frozenset(action for action, allowed in ALLOWED.items() if roles & allowed)


def action_required(action: Action) -> Callable:
    """View decorator: anonymous users go to the login page; users who may not take ``action`` get 403."""
    return role_required(*ALLOWED[action], refusal=f"Your account may not {ACTION_WORDS[action]}.")


ACTION_WORDS = {
    Action.SCORE: "score conversations",
    Action.ADJUDICATE: "adjudicate",
    Action.SEE_CAMPAIGNS: "see the campaigns",
    Action.BROWSE_CASES: "browse cases and conversations",
    Action.SEE_RESULTS: "see results",
    Action.PUBLISH_RESULTS: "save calibrations and publish leaderboards",
    Action.RUN_JURY: "run the jury",
    Action.GENERATE: "generate conversations",
    Action.IMPORT_BUNDLES: "import bundles",
    Action.EXPORT: "export results",
    Action.USE_API: "use the API",
    Action.ADMINISTER: "administer the studio",
}


def role_required(*roles: Role, refusal: str | None = None) -> Callable:
    """View decorator: anonymous users go to the login page; users without any of ``roles`` get 403."""
    if not roles:
        raise ValueError("role_required needs at least one role")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied(refusal or f"This page needs the role {' or '.join(roles)}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class HasRole(BasePermission):
    """DRF permission: set ``required_roles`` on the view (a tuple of Role)."""

    message = "Your account does not have a role that may use this endpoint."

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "required_roles", None)
        if not required:
            return False
        return has_role(request.user, *required)


class IsResearcher(HasRole):
    """DRF permission for research endpoints that name no roles of their own (API root, schema, docs)."""

    def has_permission(self, request, view) -> bool:
        return may(request.user, Action.USE_API)
