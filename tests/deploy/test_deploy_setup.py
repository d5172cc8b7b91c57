"""`manage.py deploy_setup`: migrations, static files and the first admin, safe to run on every release."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db
STRONG = "a long passphrase nobody guesses 7"


@pytest.fixture
def admin_env(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG)
    return monkeypatch


def test_it_migrates_collects_static_and_creates_the_admin(admin_env, settings, tmp_path, capsys):
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("deploy_setup", verbosity=0)
    root = get_user_model().objects.get(username="root")
    assert root.is_superuser and root.is_staff and root.email == "root@example.org"
    assert root.check_password(STRONG)
    assert (tmp_path / "static" / "favicon.svg").exists()
    assert "Admin 'root' created." in capsys.readouterr().out


def test_a_second_run_leaves_the_existing_admin_alone(admin_env, capsys):
    call_command("deploy_setup", "--no-collectstatic", verbosity=0)
    user = get_user_model().objects.get(username="root")
    user.set_password("changed since " + STRONG)
    user.save()
    admin_env.setenv("DJANGO_SUPERUSER_PASSWORD", "something else entirely 42")
    call_command("deploy_setup", "--no-collectstatic", verbosity=0)
    assert get_user_model().objects.get(username="root").check_password("changed since " + STRONG)
    assert "exists: left as it is" in capsys.readouterr().out


def test_without_a_username_no_admin_is_made(monkeypatch, capsys):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    call_command("deploy_setup", "--no-collectstatic", verbosity=0)
    assert not get_user_model().objects.filter(is_superuser=True).exists()
    assert "no admin created" in capsys.readouterr().out


def test_a_missing_or_weak_password_fails_loudly(admin_env):
    admin_env.delenv("DJANGO_SUPERUSER_PASSWORD")
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD is not"):
        call_command("deploy_setup", "--no-collectstatic", verbosity=0)
    admin_env.setenv("DJANGO_SUPERUSER_PASSWORD", "password")
    with pytest.raises(CommandError, match="refused"):
        call_command("deploy_setup", "--no-collectstatic", verbosity=0)
    assert not get_user_model().objects.filter(username="root").exists()
