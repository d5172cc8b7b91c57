"""What every run of leased work items has, whatever its items do: jury runs judge, generation runs converse.

``RunBase`` holds a run's status and bookkeeping (budget, estimate, message, who and when); ``LeasedItemBase``
holds a work item's status, its lease and what its calls cost. :mod:`jury.runner` claims, renews, releases and
finishes the items of any model built on these.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models


class RunStatus(models.TextChoices):
    DRAFT = "draft", "Draft (estimated, not launched)"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures", "Completed with failures"
    CANCELLED = "cancelled"
    BUDGET_STOPPED = "budget_stopped", "Stopped at the budget cap"


class ItemStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunBase(models.Model):
    Status = RunStatus
    ACTIVE = (Status.RUNNING,)

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.DRAFT, db_index=True)
    budget = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True, help_text="Money cap.")
    estimate = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class LeasedItemBase(models.Model):
    """A unit of a run's work. Concrete models add ``run`` (a foreign key with ``related_name="items"``)."""

    Status = ItemStatus

    key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    error = models.TextField(blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "status"])]


class CacheEntry(models.Model):
    """A provider reply, content-addressed by provider, model, parameters and the full request (images by hash)."""

    key = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=60)
    model_id = models.CharField(max_length=200)
    text = models.TextField()
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=200, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    origin = models.CharField(max_length=64, blank=True, help_text="Key of the work item whose call made it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "jury"  # the table and migrations stay the jury app's
        verbose_name_plural = "cache entries"

    def __str__(self) -> str:
        return f"{self.provider}/{self.model_id} {self.key[:12]}"
