"""Generating the benchmark's conversations: how each model under test is called, runs of cases × models ×
conditions, one work item per conversation, and a record of every provider call."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from annotation.models import Case, Conversation, ModelUnderTest
from engine.models import LeasedItemBase, RunBase
from generation.estimate import money

PROVIDER_HELP = "anthropic, openai, bedrock or simulated."


def price_field(label: str):
    return models.DecimalField(label, max_digits=10, decimal_places=4, default=Decimal("0"))


class ModelEndpoint(models.Model):
    """How to reach a model under test: its provider, model id, parameters, whether it takes images, its prices."""

    model_under_test = models.OneToOneField(ModelUnderTest, related_name="endpoint", on_delete=models.CASCADE)
    provider = models.CharField(max_length=60, help_text=PROVIDER_HELP)
    model_id = models.CharField(max_length=200, help_text="The provider's model id (e.g. a Bedrock model id).")
    parameters = models.JSONField(default=dict, blank=True, help_text='e.g. {"max_tokens": 800, "temperature": 0.7}')
    accepts_images = models.BooleanField(default=True)
    input_price_per_mtok = price_field("input price (per million tokens)")
    output_price_per_mtok = price_field("output price (per million tokens)")

    class Meta:
        ordering = ["model_under_test__key"]
        verbose_name = "model endpoint"

    def __str__(self) -> str:
        return f"{self.model_under_test.key} → {self.provider}/{self.model_id}"

    @property
    def simulated(self) -> bool:
        return self.provider == "simulated"

    def cost_of(self, *, input_tokens: int, output_tokens: int) -> Decimal:
        return money(input_tokens, output_tokens, self.input_price_per_mtok, self.output_price_per_mtok)


class GenerationRun(RunBase):
    """Cases × models under test × conditions, each conversation held between the patient simulator and a model."""

    models_under_test = models.ManyToManyField(ModelUnderTest, related_name="generation_runs")
    case_selection = models.JSONField(
        default=dict, blank=True, help_text='Which cases: {"keys": [...], "specialties": [...]} (empty: every case).'
    )
    conditions = models.JSONField(default=list, help_text='Subset of ["full", "no_image", "no_ehr"].')
    max_turns = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Exchanges at most (a patient message and the model's reply); either side may end sooner.",
    )
    seed = models.IntegerField(default=0, help_text="Seeds the patient simulator; the same for every condition.")
    patient_provider = models.CharField(max_length=60, default="simulated", help_text=PROVIDER_HELP)
    patient_model_id = models.CharField(max_length=200, default="simulated/patient")
    patient_parameters = models.JSONField(default=dict, blank=True)
    patient_accepts_images = models.BooleanField(default=True, help_text="The patient simulator sees the image.")
    patient_input_price_per_mtok = price_field("patient simulator input price (per million tokens)")
    patient_output_price_per_mtok = price_field("patient simulator output price (per million tokens)")
    prompts = models.JSONField(
        default=dict, help_text="The persona and system prompt files used: reference, SHA-256 and full text."
    )
    concurrency = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Caps every provider's calls in flight in this run (blank: the settings)."
    )

    def __str__(self) -> str:
        return f"Generation run {self.pk}: {self.name}"

    @property
    def patient_simulated(self) -> bool:
        return self.patient_provider == "simulated"

    def patient_cost_of(self, *, input_tokens: int, output_tokens: int) -> Decimal:
        return money(input_tokens, output_tokens, self.patient_input_price_per_mtok, self.patient_output_price_per_mtok)


class GenerationItem(LeasedItemBase):
    """One conversation to generate: case × model × condition of a run. ``key`` makes creating items idempotent."""

    run = models.ForeignKey(GenerationRun, related_name="items", on_delete=models.CASCADE)
    case = models.ForeignKey(Case, related_name="generation_items", on_delete=models.PROTECT)
    model = models.ForeignKey(ModelUnderTest, related_name="generation_items", on_delete=models.PROTECT)
    condition = models.CharField(max_length=10, choices=Conversation.Condition.choices)
    patient_seed = models.BigIntegerField(help_text="The patient simulator's seed: the same for a case's conditions.")
    turns = models.PositiveSmallIntegerField(default=0, help_text="Turns written (patient and assistant).")
    provider_calls = models.PositiveIntegerField(default=0, help_text="Calls that reached a provider.")
    cached_calls = models.PositiveIntegerField(default=0, help_text="Replies served from the cache.")
    failures = models.JSONField(default=list, blank=True)
    conversation = models.OneToOneField(
        Conversation, null=True, blank=True, related_name="generation_item", on_delete=models.SET_NULL
    )

    class Meta(LeasedItemBase.Meta):
        constraints = [
            models.UniqueConstraint(fields=["run", "case", "model", "condition"], name="unique_generation_item")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.case.key} × {self.model.key} × {self.condition}"


class GenerationCall(models.Model):
    """One provider reply used in a generated conversation (a fresh call or a cache hit), like a judgement's record."""

    class Role(models.TextChoices):
        PATIENT = "patient"
        MODEL = "model", "Model under test"

    item = models.ForeignKey(GenerationItem, related_name="calls", on_delete=models.CASCADE)
    turn = models.PositiveSmallIntegerField(help_text="0-based index of the turn this reply became.")
    role = models.CharField(max_length=10, choices=Role.choices)
    provider = models.CharField(max_length=60)
    model_id = models.CharField(max_length=200)
    parameters = models.JSONField(default=dict, blank=True)
    cache_key = models.CharField(max_length=64, db_index=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=200, blank=True)
    cached = models.BooleanField(default=False, help_text="Served from the cache: no provider call, no cost.")
    attempts = models.PositiveSmallIntegerField(default=1, help_text="Calls made, transient retries included.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "turn"]
        constraints = [models.UniqueConstraint(fields=["item", "turn"], name="unique_generation_call_turn")]

    def __str__(self) -> str:
        return f"{self.item} turn {self.turn} ({self.role})"
