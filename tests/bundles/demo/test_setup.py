"""`setup_demo`: the demo bundle goes through the real importer, and one account per role is created."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from annotation.models import Case, Conversation, Image, ModelUnderTest
from annotation.roles import Role, roles_of
from bundles.demo.accounts import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def log_in(username: str):
    """The login throttle needs the request (its address) to authenticate."""
    return authenticate(RequestFactory().post("/login/"), username=username, password=DEMO_PASSWORD)


def test_setup_demo_imports_the_demo_and_creates_the_demo_accounts(tmp_path, capsys):
    call_command("setup_demo", "--force", "--bundle-dir", str(tmp_path / "demo"))
    out = capsys.readouterr().out
    assert "created 8 models, 25 cases, 600 conversations, 573 annotations" in out

    assert set(ModelUnderTest.objects.values_list("family", flat=True)) == {"Claude", "GPT", "Nova", "Llama"}
    assert all(name.startswith("Demo ") for name in ModelUnderTest.objects.values_list("name", flat=True))
    assert not Conversation.objects.filter(synthetic=False).exists()
    assert Case.objects.filter(malignant=True).count() >= 6 and Case.objects.filter(rare=True).count() >= 4
    assert Image.objects.filter(original_format="DICOM").count() >= 8
    assert roles_of(log_in("admin")) == set(Role)
    assert roles_of(log_in("clinician1")) == {Role.CLINICIAN}
    assert roles_of(log_in("researcher")) == {Role.RESEARCHER}

    call_command("setup_demo", "--force", "--bundle-dir", str(tmp_path / "demo"))
    assert "nothing changed" in capsys.readouterr().out


def test_setup_demo_refuses_published_passwords_with_debug_off(settings, tmp_path):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="Demo accounts have a published password"):
        call_command("setup_demo", "--bundle-dir", str(tmp_path / "demo"))
