"""Wrong passwords lock out one username from one address for a while, on the site's login and the admin's."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.site.test_settings import load_settings

pytestmark = pytest.mark.django_db
LOGINS = ["/login/", "/admin/login/"]


def log_in(client, url, password, *, address="10.0.0.1"):
    return client.post(url, {"username": "ada", "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, url, times, *, address="10.0.0.1"):
    for _ in range(times):
        log_in(client, url, "wrong password", address=address)


@pytest.mark.parametrize("url", LOGINS)
def test_after_the_failure_limit_even_the_right_password_is_refused(client, ada, settings, url):
    fail(client, url, settings.AXES_FAILURE_LIMIT)
    response = log_in(client, url, PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)


@pytest.mark.parametrize("url", LOGINS)
def test_one_failure_fewer_than_the_limit_still_lets_the_right_password_in(client, ada, settings, url):
    fail(client, url, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, url, PASSWORD).status_code == 302 and signed_in(client)


def test_the_lockout_holds_one_username_from_one_address_only(client, ada, settings):
    fail(client, "/login/", settings.AXES_FAILURE_LIMIT)
    assert log_in(client, "/login/", PASSWORD, address="10.0.0.2").status_code == 302
    assert signed_in(client)


def test_after_the_cool_off_the_right_password_works_again(client, ada, settings):
    fail(client, "/login/", settings.AXES_FAILURE_LIMIT)
    assert log_in(client, "/login/", PASSWORD).status_code == 429
    past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert log_in(client, "/login/", PASSWORD).status_code == 302 and signed_in(client)


def test_an_admin_reset_lifts_the_lockout(client, ada, settings):
    fail(client, "/admin/login/", settings.AXES_FAILURE_LIMIT)
    assert log_in(client, "/admin/login/", PASSWORD).status_code == 429
    reset(username="ada")
    assert log_in(client, "/admin/login/", PASSWORD).status_code == 302 and signed_in(client)


def test_limit_and_cool_off_come_from_the_environment():
    code = "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds())"
    default = load_settings(code=code)
    assert default.stdout.split()[-2:] == ["5", "900.0"], default.stderr
    chosen = load_settings(code=code, AXES_FAILURE_LIMIT="3", AXES_COOLOFF_MINUTES="60")
    assert chosen.stdout.split()[-2:] == ["3", "3600.0"], chosen.stderr
