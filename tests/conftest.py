"""Personas shared by every test. Each says in one line who they are.

- Ada is an admin (staff): she manages cases, campaigns and imports, and may do everything.
- Carmen and Chidi are clinicians: they score conversations.
- Adele is an adjudicator: she resolves disagreements between clinicians.
- Rex is a researcher: he imports bundles, runs the jury and reads the statistics.
- Otto is an outsider with an account and no role: he must be refused everywhere.
"""

import os

import pytest
from django.conf import settings

from annotation.roles import Role
from tests.factories import UserFactory

pytest_plugins = ["tests.fixtures"]

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def migration_data(request):
    """Transactional tests flush the tables after each test, removing what migrations created: make it again."""
    if request.node.get_closest_marker("django_db") is None:
        if "db" not in request.fixturenames:
            return
        request.getfixturevalue("db")  # plain fixtures (personas) ask for the database after autouse fixtures
    from annotation.services import ensure_roles_and_default_rubric

    ensure_roles_and_default_rubric()


@pytest.fixture(autouse=True)
def empty_cache():
    """Results are cached under their inputs' hash; ids restart in every test, so no report may outlive one."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def ada(db):
    return UserFactory(username="ada", is_staff=True, is_superuser=True)


@pytest.fixture
def carmen(db):
    return UserFactory(username="carmen", roles=[Role.CLINICIAN])


@pytest.fixture
def chidi(db):
    return UserFactory(username="chidi", roles=[Role.CLINICIAN])


@pytest.fixture
def adele(db):
    return UserFactory(username="adele", roles=[Role.ADJUDICATOR, Role.CLINICIAN])


@pytest.fixture
def rex(db):
    return UserFactory(username="rex", roles=[Role.RESEARCHER])


@pytest.fixture
def otto(db):
    return UserFactory(username="otto")


def services_required() -> bool:
    return settings.IMCBENCH_REQUIRE_SERVICES or os.environ.get("CI") == "true"


def missing(what: str) -> None:
    """A service a test needs is absent: fail when services are required (CI), skip otherwise."""
    if services_required():
        pytest.fail(f"{what} is required (IMCBENCH_REQUIRE_SERVICES is on) but not configured or not reachable")
    pytest.skip(f"{what} not configured")


@pytest.fixture
def eager_celery():
    """These tests run tasks in-process, also in CI where a broker is configured (the worker test uses a real one)."""
    from imcbench_site.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
    # Eager calls cached a disabled result backend on the app; later tests may configure a real one.
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)
