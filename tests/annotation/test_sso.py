"""Single sign-on against a real OpenID Connect provider: django-oauth-toolkit in its own process, RS256 signed.

Grace is a clinician at the hospital's identity provider (tests/sso/provider): she has no local account; the
provider's ``groups`` claim says what she may do here. The site under test is the live server.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from annotation.models import AuditEvent
from annotation.roles import Role, roles_of
from imcbench_site.oidc import BACKEND, ROLE_NAMES, oidc_settings, parse_role_map

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "imcbench-studio", "a-client-secret-only-for-this-test"
PASSWORD = "grace's provider password"
ROLE_MAP = "hospital-radiologists=clinician,hospital-research=researcher,hospital-it=admin"


@pytest.fixture
def provider(live_server, tmp_path):
    """The provider process, its client registered for the live server; yields its base URL."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"grace": ["hospital-radiologists", "hospital-canteen"]}))
    env = {"PROVIDER_DB": str(tmp_path / "provider.sqlite3"), "PROVIDER_RSA_KEY": str(tmp_path / "key.pem")}
    command = [sys.executable, "-m", "tests.sso.provider.serve", live_server.url, CLIENT_ID, CLIENT_SECRET]
    process = subprocess.Popen(
        [*command, "grace", PASSWORD],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PROVIDER_GROUPS": str(groups), **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("ready "), f"the provider did not start: {line!r}"
        yield {"url": f"http://127.0.0.1:{line.split()[1]}", "groups": groups}
    finally:
        process.stdin.close()
        process.wait(timeout=10)


@pytest.fixture
def sso_site(settings, provider):
    """The site configured from the environment a deployment would set, pointing at the provider."""
    base = provider["url"] + "/o"
    values = oidc_settings(
        {
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{base}/authorize/",
            "OIDC_OP_TOKEN_ENDPOINT": f"{base}/token/",
            "OIDC_OP_USER_ENDPOINT": f"{base}/userinfo/",
            "OIDC_OP_JWKS_ENDPOINT": f"{base}/.well-known/jwks.json",
            "OIDC_OP_LOGOUT_ENDPOINT": f"{base}/logout/",
            "OIDC_ROLE_MAP": ROLE_MAP,
            "OIDC_PROVIDER_NAME": "St Elsewhere accounts",
        }
    )
    for name, value in values.items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, BACKEND]
    return provider


def log_in_at_provider(session: requests.Session, site: str) -> requests.Response:
    """Start at the site's login page, follow its button to the provider, fill in the provider's form."""
    page = session.get(f"{site}/login/")
    button = re.search(r'href="(/login/sso/[^"]*)">Log in with St Elsewhere accounts<', page.text)
    assert button, "the login page offers single sign-on beside the local form"
    assert 'name="password"' in page.text
    form = session.get(site + button.group(1).replace("&amp;", "&"))
    assert urlparse(form.url).path == "/accounts/login/", "the provider asks for its own password"
    return session.post(
        form.url,
        data={
            "username": "grace",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies.get("provider_csrf", domain="127.0.0.1"),
            "next": parse_qs(urlparse(form.url).query)["next"][0],
        },
        timeout=30,
    )


def grace():
    user = get_user_model().objects.get(username__startswith="sso-")
    user.__dict__.pop("_imcbench_roles", None)
    return user


@pytest.mark.django_db(transaction=True)
def test_log_in_with_the_provider_take_roles_from_its_group_claim_and_log_out_of_both(live_server, sso_site):
    session = requests.Session()
    landed = log_in_at_provider(session, live_server.url)
    assert landed.status_code == 200 and landed.url == f"{live_server.url}/", [r.url for r in landed.history]
    user = grace()
    assert roles_of(user) == {Role.CLINICIAN}
    assert (user.get_full_name(), user.has_usable_password()) == ("Grace Okafor", False)
    assert "Grace Okafor" in landed.text and "My work" in landed.text
    assert session.get(f"{live_server.url}/work/").status_code == 200

    csrf = session.cookies.get("csrftoken")
    out = session.post(f"{live_server.url}/logout/", data={"csrfmiddlewaretoken": csrf}, timeout=30)
    hops = [urlparse(response.url) for response in out.history]
    assert any(hop.netloc == urlparse(sso_site["url"]).netloc and hop.path == "/o/logout/" for hop in hops), hops
    assert out.url == f"{live_server.url}/login/"
    assert session.get(f"{live_server.url}/work/", allow_redirects=False).status_code == 302

    sso_site["groups"].write_text(json.dumps({"grace": ["hospital-research"]}))
    again = log_in_at_provider(session, live_server.url)  # the provider's session ended too: it asks again
    assert again.url == f"{live_server.url}/"
    assert roles_of(grace()) == {Role.RESEARCHER}, "the roles follow the claim at every login"
    changes = [event.details for event in AuditEvent.objects.filter(action="sso_roles").order_by("at")]
    assert changes == [{"before": [], "after": ["clinician"]}, {"before": ["clinician"], "after": ["researcher"]}]


def test_sso_is_off_without_configuration(client):
    assert client.get("/login/sso/").status_code == 404
    assert "Log in with" not in client.get("/login/").content.decode()


def test_half_a_configuration_fails_naming_what_is_missing():
    with pytest.raises(ImproperlyConfigured, match=r"OIDC_RP_CLIENT_ID set but OIDC_RP_CLIENT_SECRET, .*missing"):
        oidc_settings({"OIDC_RP_CLIENT_ID": "x"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("staff=nurse", "item 1 'staff=nurse': 'nurse' is not a role"),
        ("a=clinician,staff", "item 2 'staff' is not group=role"),
        (" , ", "names no group"),
    ],
)
def test_a_role_map_that_cannot_be_right_is_refused(raw, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        parse_role_map(raw)


def test_the_role_map_knows_every_role_and_a_group_may_give_two():
    assert set(ROLE_NAMES) == {role.value for role in Role}
    assert parse_role_map("chiefs=clinician, chiefs=adjudicator") == {"chiefs": ("clinician", "adjudicator")}


@pytest.fixture
def sso_settings(settings):
    values = oidc_settings(
        {
            name: "https://login.example.org/x"
            for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT")
        }
        | {"OIDC_OP_JWKS_ENDPOINT": "https://login.example.org/certs", "OIDC_RP_CLIENT_ID": CLIENT_ID}
        | {"OIDC_RP_CLIENT_SECRET": CLIENT_SECRET, "OIDC_ROLE_MAP": ROLE_MAP}
    )
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


@pytest.mark.django_db
def test_a_local_account_is_never_taken_over_by_a_provider_user(sso_settings):
    from django.core.exceptions import SuspiciousOperation

    from annotation.sso import RoleClaimBackend
    from tests.factories import UserFactory

    UserFactory(username="sso-7")  # made by an admin, with a password
    with pytest.raises(SuspiciousOperation, match="sso-7 is a local account"):
        RoleClaimBackend().filter_users_by_claims({"sub": "7", "email": "sso-7@example.org"})


@pytest.mark.django_db
def test_the_admin_group_makes_staff_and_losing_every_group_leaves_no_role(sso_settings):
    from annotation.sso import RoleClaimBackend

    backend = RoleClaimBackend()
    user = backend.create_user({"sub": "42", "groups": ["hospital-it", "hospital-radiologists"]})
    assert (user.username, user.is_staff, user.is_superuser) == ("sso-42", True, True)
    backend.update_user(user, {"sub": "42", "groups": "hospital-canteen"})
    user.refresh_from_db()
    assert (user.is_staff, roles_of(user)) == (False, frozenset())
