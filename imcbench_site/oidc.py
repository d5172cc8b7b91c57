"""OpenID Connect single sign-on settings, read from the environment (mozilla-django-oidc's setting names).

Nothing set: no single sign-on, local accounts only. Setting any ``OIDC_*`` variable turns it on, and then every
required one must be set: a half-configured login fails at start-up, naming what is missing, never at a
clinician's first attempt.
"""

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

REQUIRED = (
    "OIDC_RP_CLIENT_ID",
    "OIDC_RP_CLIENT_SECRET",
    "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "OIDC_OP_TOKEN_ENDPOINT",
    "OIDC_OP_USER_ENDPOINT",
    "OIDC_OP_JWKS_ENDPOINT",
    "OIDC_ROLE_MAP",
)
OPTIONAL = (
    "OIDC_OP_LOGOUT_ENDPOINT",
    "OIDC_RP_SIGN_ALGO",
    "OIDC_RP_SCOPES",
    "OIDC_ROLE_CLAIM",
    "OIDC_PROVIDER_NAME",
    "OIDC_USE_PKCE",
    "OIDC_TIMEOUT",
)
# The app's roles (annotation.roles.Role, which cannot be imported before the apps load; a test keeps them equal).
ROLE_NAMES = ("clinician", "adjudicator", "researcher", "admin")
SIGN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
BACKEND = "annotation.sso.RoleClaimBackend"


def parse_role_map(raw: str) -> dict[str, tuple[str, ...]]:
    """``group=role,group=role`` → {group: roles}; a group may be named twice to give two roles."""
    mapping: dict[str, tuple[str, ...]] = {}
    for position, item in enumerate((part.strip() for part in raw.split(",")), start=1):
        if not item:
            continue
        group, equals, role = (side.strip() for side in item.partition("="))
        if not equals or not group or not role:
            raise ImproperlyConfigured(f"OIDC_ROLE_MAP: item {position} {item!r} is not group=role.")
        if role not in ROLE_NAMES:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: item {position} {item!r}: {role!r} is not a role (one of {', '.join(ROLE_NAMES)})."
            )
        mapping[group] = (*mapping.get(group, ()), role)
    if not mapping:
        raise ImproperlyConfigured("OIDC_ROLE_MAP names no group: set it to group=role pairs, e.g. staff=clinician.")
    return mapping


def oidc_settings(environ: Mapping[str, str]) -> dict:
    """The Django settings single sign-on needs, from ``environ``; {"OIDC_ENABLED": False} when none is set."""
    given = {name: environ[name].strip() for name in (*REQUIRED, *OPTIONAL) if environ.get(name, "").strip()}
    if not given:
        return {"OIDC_ENABLED": False}
    missing = [name for name in REQUIRED if name not in given]
    if missing:
        raise ImproperlyConfigured(
            f"Single sign-on is half configured: {', '.join(sorted(given))} set but {', '.join(missing)} missing. "
            "Set them all (docs/deployment.md, Single sign-on), or none for local accounts only."
        )
    algorithm = given.get("OIDC_RP_SIGN_ALGO", "RS256")
    if algorithm not in SIGN_ALGORITHMS:
        raise ImproperlyConfigured(f"OIDC_RP_SIGN_ALGO={algorithm!r} is not one of {', '.join(SIGN_ALGORITHMS)}.")
    scopes = given.get("OIDC_RP_SCOPES", "openid email profile")
    if "openid" not in scopes.split():
        raise ImproperlyConfigured(f"OIDC_RP_SCOPES={scopes!r} lacks 'openid'.")
    use_pkce = given.get("OIDC_USE_PKCE", "1").lower()
    if use_pkce not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
        raise ImproperlyConfigured(f"OIDC_USE_PKCE={use_pkce!r} is not a boolean: use 1/0.")
    timeout = given.get("OIDC_TIMEOUT", "10")
    if not timeout.isdigit() or int(timeout) == 0:
        raise ImproperlyConfigured(f"OIDC_TIMEOUT={timeout!r} is not a whole number of seconds above 0.")
    return {
        "OIDC_ENABLED": True,
        "OIDC_RP_CLIENT_ID": given["OIDC_RP_CLIENT_ID"],
        "OIDC_RP_CLIENT_SECRET": given["OIDC_RP_CLIENT_SECRET"],
        "OIDC_OP_AUTHORIZATION_ENDPOINT": given["OIDC_OP_AUTHORIZATION_ENDPOINT"],
        "OIDC_OP_TOKEN_ENDPOINT": given["OIDC_OP_TOKEN_ENDPOINT"],
        "OIDC_OP_USER_ENDPOINT": given["OIDC_OP_USER_ENDPOINT"],
        "OIDC_OP_JWKS_ENDPOINT": given["OIDC_OP_JWKS_ENDPOINT"],
        "OIDC_OP_LOGOUT_ENDPOINT": given.get("OIDC_OP_LOGOUT_ENDPOINT"),
        "OIDC_RP_SIGN_ALGO": algorithm,
        "OIDC_RP_SCOPES": scopes,
        "OIDC_USE_PKCE": use_pkce in {"1", "true", "yes", "on"},
        "OIDC_TIMEOUT": int(timeout),
        "OIDC_ROLE_CLAIM": given.get("OIDC_ROLE_CLAIM", "groups"),
        "OIDC_ROLE_MAP": parse_role_map(given["OIDC_ROLE_MAP"]),
        "OIDC_PROVIDER_NAME": given.get("OIDC_PROVIDER_NAME", "your institution's account"),
        "OIDC_STORE_ID_TOKEN": True,  # the hint RP-initiated logout sends back to the provider
    }
