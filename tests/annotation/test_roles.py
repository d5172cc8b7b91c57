"""The role helper every view and endpoint uses."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from annotation.roles import ACTION_WORDS, ALLOWED, Action, HasRole, Role, actions_of, has_role, role_required, roles_of

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


def readme_roles_table() -> dict[str, set[str]]:
    """README's roles table: the first words of each action's row -> the roles marked "yes"."""
    text = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = text.split("## Roles", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table = {}
    for row in rows[1:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table[cells[0]] = {header[i] for i, cell in enumerate(cells) if i and cell == "yes"}
    return table


def test_the_readme_says_what_each_role_may_do_as_the_code_decides_it():
    table = readme_roles_table()
    assert len(table) == len(Action), f"README lists {len(table)} actions, the code {len(Action)}"
    for action, roles in ALLOWED.items():
        words = ACTION_WORDS[action]
        rows = [row for row in table if row.startswith(words)]
        assert len(rows) == 1, f"README has {len(rows)} rows starting {words!r} for {action}"
        expected = {str(role) for role in roles} | {"admin"}
        assert table[rows[0]] == expected, f"{rows[0]}: README says {table[rows[0]]}, the code {expected}"


def test_each_persona_may_take_exactly_their_roles_actions(ada, carmen, adele, rex, otto):
    assert actions_of(otto) == frozenset()
    assert actions_of(carmen) == {Action.SCORE}
    assert actions_of(adele) == {Action.SCORE, Action.ADJUDICATE, Action.SEE_CAMPAIGNS}
    assert Action.ADMINISTER not in actions_of(rex) and {Action.RUN_JURY, Action.IMPORT_BUNDLES} <= actions_of(rex)
    assert actions_of(ada) == frozenset(Action)
