"""The benchmark's data: cases with images and patient profiles, models under test, conversations, rubrics,
and clinicians' annotations. Keys (``key``) are the ids used in benchmark bundles. It is long because the
app's tables point at one another (campaigns, leases, selections, the queue and its size, annotations) and are
kept in the one models module Django looks for."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

SCORE_MIN, SCORE_MAX = 1, 5
SCORES = range(SCORE_MIN, SCORE_MAX + 1)

bundle_key = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}$",
    "Use 1–200 letters, digits or . _ : @ / + - (starting with a letter or digit).",
)


class BundleImport(models.Model):
    """One import of a benchmark bundle: where it came from and what it changed."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=500, help_text="File or directory the bundle was read from.")
    content_hash = models.CharField(max_length=64, db_index=True, help_text="SHA-256 over every record and file.")
    manifest = models.JSONField(default=dict)
    synthetic = models.BooleanField(default=False, help_text="The bundle declares its content synthetic.")
    counts = models.JSONField(default=dict, help_text="Records created and unchanged, by kind.")
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.imported_at:%Y-%m-%d %H:%M})"


class ModelUnderTest(models.Model):
    key = models.CharField(max_length=200, unique=True, validators=[bundle_key])
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=40, db_index=True, help_text="Claude, GPT, Nova, Llama, ...")
    provider = models.CharField(max_length=60, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["family", "name"]
        verbose_name = "model under test"
        verbose_name_plural = "models under test"

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    key = models.CharField(max_length=200, unique=True, validators=[bundle_key])
    title = models.CharField(max_length=300)
    specialty = models.CharField(max_length=100, blank=True, db_index=True)
    diagnosis = models.CharField(max_length=300, blank=True)
    malignant = models.BooleanField(default=False, db_index=True)
    rare = models.BooleanField(default=False, db_index=True)
    modality = models.CharField(max_length=100, blank=True, db_index=True, help_text="Of the first image.")
    tags = models.JSONField(default=dict, blank=True, help_text="Every tag from the bundle, malignant and rare too.")
    extra = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    bundle = models.ForeignKey(BundleImport, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}: {self.title}"


class Image(models.Model):
    case = models.ForeignKey(Case, related_name="images", on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField(default=0)
    bundle_path = models.CharField(max_length=500, help_text="Path of the file inside its bundle.")
    original = models.FileField(upload_to="images/original/", max_length=300)
    original_format = models.CharField(max_length=10)
    derivative = models.ImageField(
        upload_to="images/web/", max_length=300, help_text="Web-safe, metadata-free rendering."
    )
    web_dicom = models.FileField(
        upload_to="images/dicom/",
        max_length=300,
        blank=True,
        help_text="De-identified, uncompressed copy of every frame of a DICOM original, for the viewer.",
    )
    tiles = models.CharField(
        max_length=300, blank=True, help_text="Media name of the Deep Zoom descriptor (.dzi) of a large image."
    )
    display = models.JSONField(
        default=dict,
        blank=True,
        help_text='What the viewer needs: {"frames": 30, "shown_frame": 15, "window": [40, 400], ...}.',
    )
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    checksum = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the original file.")
    modality = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=500)
    license = models.CharField(max_length=200)
    caption = models.TextField(blank=True)
    # The bundle's review of the pixels for burned-in text (docs/bundle-format.md), shown to admins only.
    pixel_review = models.JSONField(default=dict, blank=True, help_text='{"identifying": false, "by", "on", "note"}')
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["case", "position"]
        constraints = [models.UniqueConstraint(fields=["case", "position"], name="unique_image_position")]

    def __str__(self) -> str:
        return f"{self.case.key} image {self.position + 1} ({self.modality or self.original_format})"


class PatientProfile(models.Model):
    class Format(models.TextChoices):
        FHIR_R4 = "fhir-r4", "FHIR R4 bundle"
        FLAT = "flat", "Flat record"

    case = models.OneToOneField(Case, related_name="profile", on_delete=models.CASCADE)
    format = models.CharField(max_length=10, choices=Format.choices)
    raw = models.JSONField(help_text="The profile exactly as the bundle gave it.")
    summary = models.JSONField(
        default=dict,
        help_text="Normalised for display: age, sex, conditions, medications, allergies, observations.",
    )

    def __str__(self) -> str:
        return f"Profile of {self.case.key}"


class Conversation(models.Model):
    class Condition(models.TextChoices):
        FULL = "full", "Full (image and EHR)"
        NO_IMAGE = "no_image", "Without the image"
        NO_EHR = "no_ehr", "Without the EHR"

    key = models.CharField(max_length=200, unique=True, validators=[bundle_key])
    case = models.ForeignKey(Case, related_name="conversations", on_delete=models.PROTECT)
    model = models.ForeignKey(ModelUnderTest, related_name="conversations", on_delete=models.PROTECT)
    condition = models.CharField(max_length=10, choices=Condition.choices, db_index=True)
    synthetic = models.BooleanField(default=False, help_text="Generated demo content, not real model output.")
    extra = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    bundle = models.ForeignKey(BundleImport, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["case__key", "model__key", "condition"]
        indexes = [models.Index(fields=["model", "condition"])]

    def __str__(self) -> str:
        return self.key


class Turn(models.Model):
    class Role(models.TextChoices):
        PATIENT = "patient"
        ASSISTANT = "assistant"

    conversation = models.ForeignKey(Conversation, related_name="turns", on_delete=models.CASCADE)
    index = models.PositiveSmallIntegerField(help_text="0-based position in the conversation.")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["conversation", "index"]
        constraints = [models.UniqueConstraint(fields=["conversation", "index"], name="unique_turn_index")]

    def __str__(self) -> str:
        return f"{self.conversation.key} #{self.index + 1} {self.role}"


class Rubric(models.Model):
    key = models.CharField(max_length=100, unique=True, validators=[bundle_key])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rationale_required_at_or_below = models.PositiveSmallIntegerField(
        default=2, help_text="A rationale is required when any score is at or below this (0: never)."
    )
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RubricDimension(models.Model):
    rubric = models.ForeignKey(Rubric, related_name="dimensions", on_delete=models.CASCADE)
    key = models.CharField(max_length=60, validators=[bundle_key])
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    anchor_1 = models.TextField("anchor for 1", blank=True)
    anchor_2 = models.TextField("anchor for 2", blank=True)
    anchor_3 = models.TextField("anchor for 3", blank=True)
    anchor_4 = models.TextField("anchor for 4", blank=True)
    anchor_5 = models.TextField("anchor for 5", blank=True)

    class Meta:
        ordering = ["rubric", "position"]
        constraints = [models.UniqueConstraint(fields=["rubric", "key"], name="unique_dimension_key")]

    def __str__(self) -> str:
        return f"{self.rubric.key}/{self.key}"

    @property
    def anchors(self) -> dict[int, str]:
        return {score: getattr(self, f"anchor_{score}") for score in SCORES}


def validate_scores(scores: object, *, dimension_keys: set[str]) -> None:
    """Raise ValidationError unless ``scores`` maps known dimension keys to whole scores 1..5."""
    if not isinstance(scores, dict):
        raise ValidationError({"scores": "must be an object of dimension: score"})
    problems = []
    for key, score in scores.items():
        if key not in dimension_keys:
            problems.append(f"{key!r} is not a dimension of the rubric ({', '.join(sorted(dimension_keys))})")
        elif isinstance(score, bool) or not isinstance(score, int) or not SCORE_MIN <= score <= SCORE_MAX:
            problems.append(f"{key}: {score!r} is not a whole score from {SCORE_MIN} to {SCORE_MAX}")
    if problems:
        raise ValidationError({"scores": problems})


class Campaign(models.Model):
    """Who scores what: a rubric, a set of conversations, the clinicians taking part and how many score each."""

    class State(models.TextChoices):
        OPEN = "open"
        LOCKED = "locked"

    class SamplingDesign(models.TextChoices):
        UNIFORM = "uniform"
        STRATIFIED = "stratified"
        ACTIVE = "active"

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT)
    conversations = models.ManyToManyField(Conversation, related_name="campaigns", blank=True)
    clinicians = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="campaigns", blank=True)
    overlap = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)], help_text="How many clinicians score each conversation (k)."
    )
    instructions = models.TextField(blank=True)
    blinded = models.BooleanField(default=True, help_text="Clinicians never see the model's name, family or condition.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    lease_minutes = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1)])
    adjudication_threshold = models.PositiveSmallIntegerField(
        default=2,
        help_text="Scores on a dimension differing by at least this much send a conversation to adjudication.",
    )
    seed = models.PositiveIntegerField(default=0, help_text="Orders ties when handing out work, reproducibly.")
    sampling_design = models.CharField(
        max_length=12,
        choices=SamplingDesign.choices,
        default=SamplingDesign.UNIFORM,
        help_text="How conversations are chosen for clinicians (docs/inference.md); active serves the review queue "
        "first. Probabilities already recorded never change when this does.",
    )
    sampling_tag = models.CharField(
        max_length=12,
        choices=[("malignant", "malignant"), ("rare", "rare")],
        blank=True,
        help_text="Under the stratified design, also split the strata (model × condition) by this case tag.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN


class Assignment(models.Model):
    """A lease on one conversation of a campaign, held by one clinician until it expires, is submitted or skipped."""

    class State(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"
        EXPIRED = "expired"

    campaign = models.ForeignKey(Campaign, related_name="assignments", on_delete=models.CASCADE)
    conversation = models.ForeignKey(Conversation, related_name="assignments", on_delete=models.CASCADE)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="assignments", on_delete=models.CASCADE)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE, db_index=True)
    leased_at = models.DateTimeField(auto_now_add=True)
    lease_expires_at = models.DateTimeField(db_index=True)
    skip_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-leased_at"]
        indexes = [
            models.Index(fields=["campaign", "clinician", "state"]),
            models.Index(fields=["campaign", "conversation", "state"], name="assignment_per_conversation"),
            # A claim reads the campaign's lapsed leases and the clinician's live ones: the few active leases, not
            # every lease the campaign ever handed out.
            models.Index(
                fields=["campaign", "lease_expires_at"], condition=models.Q(state="active"), name="assignment_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} on {self.conversation.key} ({self.state})"


class Selection(models.Model):
    """The probability a conversation had of being sent to the campaign's clinicians, recorded when it was selected
    and never changed (the estimates weight its clinician scores by 1 / probability)."""

    campaign = models.ForeignKey(Campaign, related_name="selections", on_delete=models.CASCADE)
    conversation = models.ForeignKey(Conversation, related_name="selections", on_delete=models.PROTECT)
    probability = models.FloatField(validators=[MinValueValidator(0.0)])
    review = models.BooleanField(default=False, help_text="Targeted review: sent with probability 1, served first.")
    priority = models.FloatField(null=True, blank=True, help_text="Served higher first (review: P(unsafe)); else π.")
    design = models.CharField(max_length=12, choices=Campaign.SamplingDesign.choices)
    selected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "conversation"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "conversation"], name="one_selection_per_conversation"),
            models.CheckConstraint(
                condition=models.Q(probability__gt=0, probability__lte=1), name="selection_probability_in_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation.key} in {self.campaign} (π = {self.probability:.3g})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("a recorded selection probability is never changed")
        super().save(*args, **kwargs)


QUEUE_RANK = ("taken", "-review", "-priority", "shuffle")  # the order a campaign's queue serves its open entries


class QueueEntry(models.Model):
    """A conversation's place in its campaign's queue: how many of its k slots are taken (clinicians who submitted
    it or hold an active lease on it), whether it may still be handed out, and its rank. The services keep it in
    the transaction of every write that changes one of these (``annotation.queue``), so a claim reads its next
    candidates from one scan of the ``queue_next`` index, whatever the campaign's size and fill."""

    campaign = models.ForeignKey(Campaign, related_name="queue", on_delete=models.CASCADE)
    conversation = models.ForeignKey(Conversation, related_name="+", on_delete=models.CASCADE)
    taken = models.PositiveSmallIntegerField(default=0)
    eligible = models.BooleanField(default=True, help_text="Not left out by a sampling design's selection.")
    is_open = models.BooleanField(default=True, help_text="Eligible and fewer slots taken than the overlap.")
    review = models.BooleanField(default=False, help_text="Targeted review under the active design: served first.")
    priority = models.FloatField(default=0.0, help_text="Active design: the selection's priority, higher first.")
    shuffle = models.BigIntegerField(default=0, help_text="Orders ties, fixed by the campaign's seed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "conversation"], name="one_queue_entry_per_conversation")
        ]
        indexes = [
            models.Index(
                fields=["campaign", *QUEUE_RANK],
                condition=models.Q(is_open=True),
                name="queue_next",
            )
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} in {self.campaign_id}: {self.taken} taken"


class QueueSize(models.Model):
    """How many entries (its conversations) a campaign's queue holds, kept with the entries (``annotation.queue``),
    so a clinician's progress reads one row instead of counting a campaign's conversations on every page."""

    campaign = models.OneToOneField(Campaign, primary_key=True, related_name="queue_size", on_delete=models.CASCADE)
    conversations = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.conversations} conversations"


class Annotation(models.Model):
    """A clinician's scores of one conversation against a rubric."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"

    conversation = models.ForeignKey(Conversation, related_name="annotations", on_delete=models.PROTECT)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="annotations", on_delete=models.PROTECT)
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, related_name="annotations", on_delete=models.PROTECT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    scores = models.JSONField(default=dict, blank=True)
    rationale = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True, help_text='[{"turn": 3, "kind": "...", "note": "..."}]')
    version = models.PositiveIntegerField(default=1)
    active_seconds = models.PositiveIntegerField(default=0)
    viewer_state = models.JSONField(
        default=dict,
        blank=True,
        help_text='How the images were last viewed: {"active_seconds": 95, "images": {"<id>": {"window": ...}}}.',
    )
    extra = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    bundle = models.ForeignKey(BundleImport, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "annotator"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "annotator", "rubric"], name="one_annotation_per_annotator")
        ]
        indexes = [
            models.Index(
                fields=["annotator", "campaign"], condition=models.Q(status="draft"), name="annotation_drafts"
            ),
            models.Index(fields=["campaign", "conversation", "status"], name="annotation_per_conversation"),
            # A clinician's progress counts their own submissions in the campaign from this index alone.
            models.Index(
                fields=["campaign", "annotator"], condition=models.Q(status="submitted"), name="annotation_submitted"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.conversation.key}"

    def clean(self) -> None:
        validate_scores(self.scores, dimension_keys=set(self.rubric.dimensions.values_list("key", flat=True)))


class AnnotationRevision(models.Model):
    """A saved state of an annotation: every submit and every revision after it is kept here."""

    annotation = models.ForeignKey(Annotation, related_name="revisions", on_delete=models.CASCADE)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Annotation.Status.choices)
    scores = models.JSONField(default=dict)
    rationale = models.TextField(blank=True)
    flags = models.JSONField(default=list)
    saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "version"]
        constraints = [models.UniqueConstraint(fields=["annotation", "version"], name="unique_revision_version")]

    def __str__(self) -> str:
        return f"{self.annotation} v{self.version}"


class Adjudication(models.Model):
    """An adjudicator's final scores for a conversation the clinicians disagreed on; annotations stay untouched."""

    campaign = models.ForeignKey(Campaign, related_name="adjudications", on_delete=models.CASCADE)
    conversation = models.ForeignKey(Conversation, related_name="adjudications", on_delete=models.PROTECT)
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="adjudications", on_delete=models.PROTECT)
    scores = models.JSONField(default=dict)
    note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Raised by every later decision; each is kept.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "conversation"], name="one_adjudication_per_conversation")
        ]

    def __str__(self) -> str:
        return f"Adjudication of {self.conversation.key} in {self.campaign}"


class AdjudicationRevision(models.Model):
    """Every decision recorded for an adjudication, the first one included: a later decision never erases one."""

    adjudication = models.ForeignKey(Adjudication, related_name="revisions", on_delete=models.CASCADE)
    version = models.PositiveIntegerField()
    scores = models.JSONField(default=dict)
    note = models.TextField(blank=True)
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="+", on_delete=models.PROTECT)
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["adjudication", "-version"]
        constraints = [models.UniqueConstraint(fields=["adjudication", "version"], name="unique_adjudication_version")]

    def __str__(self) -> str:
        return f"{self.adjudication} v{self.version}"


class AuditEvent(models.Model):
    """Who did what, when: every write service records one."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=80, db_index=True)
    target = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
