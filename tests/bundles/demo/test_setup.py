"""`setup_demo`: the demo bundle goes through the real importer, and one account per role is created."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse

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


def test_the_demos_ultrasound_is_imported_on_its_recorded_review_which_admins_see(tmp_path, client):
    call_command("setup_demo", "--force", "--bundle-dir", str(tmp_path / "demo"))
    echo = Image.objects.get(case__key="case-0011", bundle_path="images/examples_ybr_color.dcm")
    assert echo.display["frames"] == 30
    assert [reason.split(":")[0] for reason in echo.display["burned_in_risk"]] == [
        "ultrasound",
        "ultrasound storage class",
    ]
    assert echo.pixel_review["identifying"] is False
    assert (echo.pixel_review["by"], echo.pixel_review["on"]) == ("IMCBench demo maintainers", "2026-12-02")
    assert "'PLA'" in echo.pixel_review["note"]
    unflagged = Image.objects.filter(original_format="DICOM", display__burned_in_risk=[])
    assert unflagged.exists() and not unflagged.exclude(pixel_review={}).exists()

    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(reverse("admin:annotation_image_change", args=[echo.pk])).content.decode()
    assert "Flagged on import by the header rules: ultrasound:" in page
    assert "Reviewed by IMCBench demo maintainers on 2026-12-02: Every one of the 30 frames" in page
    case_page = client.get(reverse("admin:annotation_case_change", args=[echo.case.pk])).content.decode()
    assert "Reviewed by IMCBench demo maintainers on 2026-12-02" in case_page
