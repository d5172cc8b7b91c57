"""What the API stores of its own: the requests sent with an ``Idempotency-Key`` and the responses they got."""

from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """A POST sent with an ``Idempotency-Key``: who sent it, a fingerprint of what was sent, and the response given.

    A retry with the same key and the same request gets the stored response and starts nothing new; the same key
    with a different request is refused. ``status_code`` is null while the first request is still being answered.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="+", on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path, fields and file contents.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} with key {self.key!r}"
