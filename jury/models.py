"""Judges, their prompts and the judgements they give. Runs, calibration and leaderboards build on these."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from annotation.models import SCORE_MAX, SCORE_MIN, BundleImport, Campaign, Conversation, bundle_key
from engine.models import LeasedItemBase, RunBase


class Judge(models.Model):
    key = models.CharField(max_length=200, unique=True, validators=[bundle_key])
    name = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=60, blank=True, help_text="anthropic, openai, bedrock or simulated.")
    model_id = models.CharField(max_length=200, blank=True)
    family = models.CharField(max_length=40, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    accepts_images = models.BooleanField(default=False)
    extra = models.JSONField(default=dict, blank=True)
    input_price_per_mtok = models.DecimalField(
        "input price (per million tokens)", max_digits=10, decimal_places=4, default=Decimal("0")
    )
    output_price_per_mtok = models.DecimalField(
        "output price (per million tokens)", max_digits=10, decimal_places=4, default=Decimal("0")
    )
    active = models.BooleanField(default=True, help_text="Offered when launching a run.")

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name or self.key

    @property
    def simulated(self) -> bool:
        return self.provider == "simulated"

    def cost_of(self, *, input_tokens: int, output_tokens: int) -> Decimal:
        """Money for one call at this judge's prices (per million tokens)."""
        cost = (
            Decimal(input_tokens) * self.input_price_per_mtok + Decimal(output_tokens) * self.output_price_per_mtok
        ) / Decimal(1_000_000)
        return cost.quantize(Decimal("0.000001"))


class JudgePrompt(models.Model):
    """A versioned prompt template for one dimension. Bundles name it ``key@version``."""

    key = models.CharField(max_length=200, validators=[bundle_key])
    version = models.CharField(max_length=40)
    dimension = models.CharField(max_length=60, blank=True)
    template = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    style = models.CharField(max_length=60, blank=True, help_text="rubric-anchored, checklist, critique-then-score…")
    source_path = models.CharField(max_length=300, blank=True, help_text="File under jury/prompts/ it came from.")

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
    run = models.ForeignKey("JuryRun", null=True, blank=True, related_name="judgements", on_delete=models.SET_NULL)
    provider = models.CharField(max_length=60, blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    simulated = models.BooleanField(default=False, help_text="Produced by the simulated provider, not a real model.")

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


class JuryRun(RunBase):
    """Judges × prompts × dimensions × samples over a set of conversations, run as idempotent work items."""

    judges = models.ManyToManyField(Judge, related_name="runs")
    prompts = models.ManyToManyField(JudgePrompt, related_name="runs")
    selection = models.JSONField(
        default=dict, blank=True, help_text='Which conversations: {"models": [...], "conditions": [...], "keys": [...]}'
    )
    samples = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(20)])
    max_attempts = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)], help_text="Asks per item when replies do not parse."
    )
    concurrency = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Caps every provider's concurrency in this run (blank: the settings)."
    )

    def __str__(self) -> str:
        return f"Run {self.pk}: {self.name}"


class WorkItem(LeasedItemBase):
    """One (conversation, judge, prompt, dimension, sample) of a run. ``key`` makes creating items idempotent."""

    run = models.ForeignKey(JuryRun, related_name="items", on_delete=models.CASCADE)
    conversation = models.ForeignKey(Conversation, related_name="jury_items", on_delete=models.PROTECT)
    judge = models.ForeignKey(Judge, related_name="items", on_delete=models.PROTECT)
    prompt = models.ForeignKey(JudgePrompt, related_name="items", on_delete=models.PROTECT)
    dimension = models.CharField(max_length=60)
    sample_index = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Replies received (parsed or not).")
    provider_calls = models.PositiveSmallIntegerField(default=0, help_text="Calls that reached the provider.")
    cached = models.BooleanField(default=False)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    failures = models.JSONField(default=list, blank=True, help_text="Every failed reply or error, raw text kept.")
    judgement = models.ForeignKey(Judgement, null=True, blank=True, related_name="items", on_delete=models.SET_NULL)

    class Meta(LeasedItemBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["run", "conversation", "judge", "prompt", "dimension", "sample_index"], name="unique_run_item"
            )
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} item {self.key[:12]} ({self.dimension} #{self.sample_index})"


class CalibrationArtifact(models.Model):
    """A saved, reproducible calibration of the jury against one campaign's clinicians.

    It records the chosen method and fitted weights per dimension, the fold metrics, exactly which judgements and
    annotations it used (and their hash), the seed and the app version. Saving again on the same inputs returns
    the existing artefact; new inputs make a new version. Artefacts are never edited or overwritten.
    """

    campaign = models.ForeignKey(Campaign, related_name="calibrations", on_delete=models.PROTECT)
    version = models.PositiveIntegerField()
    inputs_hash = models.CharField(max_length=64, db_index=True)
    seed = models.IntegerField(default=0)
    methods = models.JSONField(default=dict, help_text="Chosen method per dimension.")
    report = models.JSONField(default=dict, help_text="Cross-validation report and fits per dimension.")
    judgement_ids = models.JSONField(default=list)
    annotation_ids = models.JSONField(default=list)
    app_version = models.CharField(max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "version"], name="unique_calibration_version"),
            models.UniqueConstraint(fields=["campaign", "inputs_hash", "seed"], name="unique_calibration_inputs"),
        ]

    def __str__(self) -> str:
        return f"Calibration v{self.version} of {self.campaign.key}"


class LeaderboardSnapshot(models.Model):
    """A published, frozen leaderboard: the computed payload of one calibration applied to one judgement set.

    ``inputs_hash`` names what went in (the calibration artefact, the judgement set, the bootstrap settings) and
    ``content_hash`` what came out (SHA-256 of the payload's canonical JSON). Publishing the same inputs again
    returns the existing snapshot; snapshots are never edited or overwritten.
    """

    campaign = models.ForeignKey(Campaign, related_name="leaderboard_snapshots", on_delete=models.PROTECT)
    calibration = models.ForeignKey(CalibrationArtifact, related_name="snapshots", on_delete=models.PROTECT)
    inputs_hash = models.CharField(max_length=64, unique=True)
    judgement_set_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the id and score of every scored judgement on the campaign's dimensions."
    )
    content_hash = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(help_text="Models and families, overall and per dimension, subgroups, ablations.")
    n_conversations = models.PositiveIntegerField(default=0)
    synthetic = models.BooleanField(default=False, help_text="Rests on synthetic demo conversations.")
    simulated = models.BooleanField(default=False, help_text="Rests on judgements of simulated judges.")
    app_version = models.CharField(max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Leaderboard snapshot {self.pk} of {self.campaign.key} ({self.content_hash[:12]})"


class ExportJob(models.Model):
    """One export written in the background to a new file under ``MEDIA_ROOT/exports/``; files never overwritten."""

    class Kind(models.TextChoices):
        JUDGEMENTS = "judgements"
        ANNOTATIONS = "annotations"
        SCORES = "scores", "Calibrated scores"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSONL"
        PARQUET = "parquet", "Parquet"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    format = models.CharField(max_length=10, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True, help_text='e.g. {"campaign": "demo-calibration"}')
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    rows_written = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(null=True, blank=True, help_text="Estimated before writing.")
    file = models.FileField(upload_to="exports/", max_length=300, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export {self.pk}: {self.kind}.{self.format}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int | None:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return None
        return min(99, round(100 * self.rows_written / self.rows_total))
