"""Single sign-on accounts: an identity provider's user becomes an account whose roles follow its group claim.

An account made here is named ``sso-<sub>`` (the provider's stable subject id) and has no usable password, so it
can never be reached through the password form, and no local account (one with a password) can be taken over by a
provider user of the same name or e-mail. Its roles are set from the claim ``OIDC_ROLE_CLAIM`` through
``OIDC_ROLE_MAP`` at every login: a group the provider removed takes the role away at the next login.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from annotation.models import AuditEvent
from annotation.roles import GROUP_ROLES, Role

log = logging.getLogger(__name__)

USERNAME_PREFIX = "sso-"


def username_for(claims: dict) -> str:
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SuspiciousOperation("the identity provider sent no 'sub' claim")
    return (USERNAME_PREFIX + subject)[:150]


def roles_from_claims(claims: dict) -> set[Role]:
    """The app roles the provider's groups map to (``OIDC_ROLE_MAP``); unknown groups give nothing."""
    groups = claims.get(settings.OIDC_ROLE_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    mapping = settings.OIDC_ROLE_MAP
    return {Role(role) for group in groups if isinstance(group, str) for role in mapping.get(group, ())}


def sync_account(*, user, claims: dict) -> None:
    """Name, e-mail and roles from the claims; an audit event when the roles changed."""
    roles = roles_from_claims(claims)
    with transaction.atomic():
        before = sorted(user.groups.filter(name__in=GROUP_ROLES).values_list("name", flat=True))
        was_admin = user.is_staff
        user.first_name = str(claims.get("given_name") or "")[:150]
        user.last_name = str(claims.get("family_name") or "")[:150]
        user.email = str(claims.get("email") or "")[:254]
        user.is_staff = user.is_superuser = Role.ADMIN in roles
        user.save(update_fields=["first_name", "last_name", "email", "is_staff", "is_superuser"])
        wanted = sorted(role.value for role in roles if role in GROUP_ROLES)
        if wanted != before:
            user.groups.remove(*Group.objects.filter(name__in=GROUP_ROLES))
            user.groups.add(*Group.objects.filter(name__in=wanted))
        if wanted != before or was_admin != user.is_staff:
            AuditEvent.objects.create(
                actor=user,
                action="sso_roles",
                target=user.get_username(),
                details={"before": before + (["admin"] if was_admin else []), "after": sorted(r.value for r in roles)},
            )
    user.__dict__.pop("_imcbench_roles", None)


class RoleClaimBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, matching accounts by subject and mapping the group claim to roles."""

    def verify_claims(self, claims: dict) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims: dict):
        users = self.UserModel.objects.filter(username=username_for(claims))
        for user in users:
            if user.has_usable_password():
                raise SuspiciousOperation(f"{user.get_username()} is a local account, not a single sign-on one")
        return users

    def create_user(self, claims: dict):
        user = get_user_model().objects.create_user(username_for(claims))  # no password: not usable
        sync_account(user=user, claims=claims)
        log.info("single sign-on account created", extra={"user_id": user.pk})
        return user

    def update_user(self, user, claims: dict):
        sync_account(user=user, claims=claims)
        return user


def logout_url(request: HttpRequest) -> str:
    """Where logging out leads: the provider's end-session endpoint (RP-initiated logout) for a single sign-on
    session when the provider has one, else the login page."""
    login = request.build_absolute_uri(reverse(settings.LOGOUT_REDIRECT_URL))
    id_token = request.session.get("oidc_id_token")
    endpoint = getattr(settings, "OIDC_OP_LOGOUT_ENDPOINT", None)
    if not (getattr(settings, "OIDC_ENABLED", False) and endpoint and id_token):
        return reverse(settings.LOGOUT_REDIRECT_URL)
    query = {"id_token_hint": id_token, "post_logout_redirect_uri": login, "client_id": settings.OIDC_RP_CLIENT_ID}
    return f"{endpoint}?{urlencode(query)}"
