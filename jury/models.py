"""Judges, their prompts and the judgements they give. Runs, calibration and leaderboards build on these."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from annotation.models import SCORE_MAX, SCORE_MIN, BundleImport, Conversation, bundle_key


class Judge(models.Model):
    key = models.CharField(max_length=200, unique=True, validators=[bundle_key])
    name = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=60, blank=True, help_text="anthropic, openai, bedrock or simulated.")
    model_id = models.CharField(max_length=200, blank=True)
    family = models.CharField(max_length=40, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    accepts_images = models.BooleanField(default=False)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name or self.key


class JudgePrompt(models.Model):
    """A versioned prompt template for one dimension. Bundles name it ``key@version``."""

    key = models.CharField(max_length=200, validators=[bundle_key])
    version = models.CharField(max_length=40)
    dimension = models.CharField(max_length=60, blank=True)
    template = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["key", "version"]
        constraints = [models.UniqueConstraint(fields=["key", "version"], name="unique_prompt_version")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"{self.key}@{self.version}"


class Judgement(models.Model):
    class Status(models.TextChoices):
        SCORED = "scored"
        FAILED = "failed"

    conversation = models.ForeignKey(Conversation, related_name="judgements", on_delete=models.PROTECT)
    judge = models.ForeignKey(Judge, related_name="judgements", on_delete=models.PROTECT)
    prompt = models.ForeignKey(JudgePrompt, related_name="judgements", on_delete=models.PROTECT)
    dimension = models.CharField(max_length=60, db_index=True)
    sample_index = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCORED)
    score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)]
    )
    rationale = models.TextField(blank=True)
    raw_reply = models.TextField(blank=True)
    usage = models.JSONField(default=dict, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    cached = models.BooleanField(default=False)
    extra = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    bundle = models.ForeignKey(BundleImport, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "judge", "prompt", "dimension", "sample_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "judge", "prompt", "dimension", "sample_index"],
                name="unique_judgement_item",
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=SCORE_MIN, score__lte=SCORE_MAX),
                name="judgement_score_in_scale",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.judge.key} {self.prompt.reference} {self.dimension} on {self.conversation.key}"
