"""Who may do what. Every view and API endpoint checks roles through this module.

Roles are Django groups (``clinician``, ``adjudicator``, ``researcher``); staff users are admins and hold
every role. Anyone else (an outsider) is refused everywhere.
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


def role_required(*roles: Role) -> Callable:
    """View decorator: anonymous users go to the login page; users without any of ``roles`` get 403."""
    if not roles:
        raise ValueError("role_required needs at least one role")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied(f"This page needs the role {' or '.join(roles)}.")
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
        return has_role(request.user, Role.RESEARCHER, Role.ADMIN)
