"""The role helper every view and endpoint uses."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from annotation.roles import HasRole, Role, has_role, role_required, roles_of

pytestmark = pytest.mark.django_db


def test_each_persona_holds_exactly_their_roles(ada, carmen, adele, rex, otto):
    assert roles_of(ada) == set(Role)
    assert roles_of(carmen) == {Role.CLINICIAN}
    assert roles_of(adele) == {Role.ADJUDICATOR, Role.CLINICIAN}
    assert roles_of(rex) == {Role.RESEARCHER}
    assert roles_of(otto) == set()
    assert roles_of(AnonymousUser()) == set()


def test_inactive_users_hold_no_role(carmen):
    carmen.is_active = False
    assert not has_role(carmen, Role.CLINICIAN)


def test_roles_are_read_once_per_user_object(carmen, django_assert_num_queries):
    with django_assert_num_queries(1):
        has_role(carmen, Role.CLINICIAN)
        has_role(carmen, Role.RESEARCHER)


@role_required(Role.RESEARCHER)
def researcher_view(request):
    return HttpResponse("ok")


def test_decorator_sends_anonymous_users_to_login_and_refuses_the_wrong_role(rex, carmen):
    request = RequestFactory().get("/results/")
    request.user = AnonymousUser()
    response = researcher_view(request)
    assert response.status_code == 302 and response.url == "/login/?next=/results/"
    request.user = carmen
    with pytest.raises(PermissionDenied, match="This page needs the role researcher"):
        researcher_view(request)
    request.user = rex
    assert researcher_view(request).content == b"ok"


def test_decorator_needs_a_role():
    with pytest.raises(ValueError, match="needs at least one role"):
        role_required()


def test_drf_permission_refuses_views_that_name_no_role(rex, otto):
    class View:
        required_roles = (Role.RESEARCHER,)

    class Unguarded:
        pass

    request = RequestFactory().get("/api/")
    request.user = rex
    assert HasRole().has_permission(request, View())
    assert not HasRole().has_permission(request, Unguarded())
    request.user = otto
    assert not HasRole().has_permission(request, View())
