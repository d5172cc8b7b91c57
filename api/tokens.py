"""API tokens: a researcher or admin holds at most one DRF token, made and revoked on their account page."""

from rest_framework.authtoken.models import Token

from annotation.models import AuditEvent


def create_token(*, user) -> tuple[Token, bool]:
    """The user's token, made now when they hold none; ``created`` says whether its key may be shown (only then)."""
    token, created = Token.objects.get_or_create(user=user)
    if created:
        AuditEvent.objects.create(actor=user, action="api_token.create", target=f"user:{user.pk}")
    return token, created


def revoke_token(*, user) -> bool:
    """Delete the user's token; False when they held none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        AuditEvent.objects.create(actor=user, action="api_token.revoke", target=f"user:{user.pk}")
    return bool(deleted)
