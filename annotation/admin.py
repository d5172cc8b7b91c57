from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count
from django.utils.html import format_html

from annotation import services
from annotation.models import (
    Annotation,
    Assignment,
    AuditEvent,
    Campaign,
    Case,
    Conversation,
    Image,
    ModelUnderTest,
    PatientProfile,
    Rubric,
    RubricDimension,
    Turn,
)


def thumbnail(image: Image | None, size: int = 64) -> str:
    if image is None or not image.derivative:
        return "—"
    return format_html(
        '<img src="{}" width="{}" height="{}" alt="{}" class="admin-thumb">',
        image.derivative.url,
        size,
        size,
        image.modality or "image",
    )


def burned_in_text(image: Image, *, brief: bool = False) -> str:
    """What is known of text burned into the pixels: what the DICOM header says, the header rules that flagged
    the file on import, and the review the bundle declared for it (``brief``: rule names and reviewer only, for
    the case page's image table; the image's own page has the rest)."""
    display = image.display or {}
    review = image.pixel_review or {}
    parts = []
    if display.get("burned_in_annotation") == "NO":
        parts.append("The file says Burned In Annotation NO.")
    if risk := display.get("burned_in_risk"):
        shown = [reason.split(":")[0] for reason in risk] if brief else risk
        parts.append(f"Flagged on import by the header rules: {'; '.join(shown)}.")
    if review:
        parts.append(
            f"Reviewed by {review.get('by')} on {review.get('on')}" + ("." if brief else f": {review.get('note')}")
        )
    if display.get("kind") == "dicom" and "burned_in_risk" not in display:
        parts.append("Imported before the burned-in text rules: not checked by them.")
    if not parts:
        return "No header rule flags this image." if display.get("kind") == "dicom" else "—"
    return " ".join(parts)


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    classes = ["images-inline"]  # admin.css fits its table to the page: long sources and captions wrap
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}
    fields = (
        "preview",
        "position",
        "bundle_path",
        "modality",
        "original_format",
        "width",
        "height",
        "source",
        "license",
        "caption",
        "burned_in",
    )
    readonly_fields = ("preview", "bundle_path", "original_format", "width", "height", "burned_in")

    @admin.display(description="Image")
    def preview(self, image: Image) -> str:
        return thumbnail(image, 96)

    @admin.display(description="Burned-in text")
    def burned_in(self, image: Image) -> str:
        return burned_in_text(image, brief=True)


class PatientProfileInline(admin.StackedInline):
    model = PatientProfile
    extra = 0
    can_delete = False
    fields = ("format", "summary", "raw")
    readonly_fields = ("format", "summary")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("preview", "key", "title", "specialty", "modality", "malignant", "rare", "conversation_count")
    list_display_links = ("key", "title")
    list_filter = ("specialty", "modality", "malignant", "rare", "bundle")
    search_fields = ("key", "title", "diagnosis")
    readonly_fields = ("content_hash", "bundle", "created_at")
    inlines = [PatientProfileInline, ImageInline]
    change_form_template = "admin/annotation/case/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_conversations=Count("conversations")).prefetch_related("images")

    @admin.display(description="Image")
    def preview(self, case: Case) -> str:
        return thumbnail(next(iter(case.images.all()), None))

    @admin.display(description="Conversations", ordering="_conversations")
    def conversation_count(self, case: Case) -> int:
        return case._conversations

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        case = self.get_object(request, object_id)
        if case is not None:
            extra_context["preview_case"] = case
            extra_context["preview_conversations"] = case.conversations.select_related("model").annotate(
                turn_count=Count("turns")
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("preview", "case", "position", "modality", "original_format", "width", "height", "license")
    list_filter = ("modality", "original_format", "license")
    search_fields = ("case__key", "bundle_path", "caption", "checksum")
    list_select_related = ("case",)
    readonly_fields = ("preview_large", "checksum", "original_format", "width", "height", "burned_in", "pixel_review")

    @admin.display(description="Image")
    def preview(self, image: Image) -> str:
        return thumbnail(image)

    @admin.display(description="Burned-in text")
    def burned_in(self, image: Image) -> str:
        return burned_in_text(image)

    @admin.display(description="Preview")
    def preview_large(self, image: Image) -> str:
        return thumbnail(image, 320)


@admin.register(PatientProfile)
class PatientProfileAdmin(admin.ModelAdmin):
    list_display = ("case", "format")
    list_filter = ("format",)
    search_fields = ("case__key",)
    list_select_related = ("case",)


@admin.register(ModelUnderTest)
class ModelUnderTestAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "family", "provider")
    list_filter = ("family", "provider")
    search_fields = ("key", "name")


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0
    fields = ("index", "role", "content")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("key", "case", "model", "condition", "synthetic")
    list_filter = ("condition", "synthetic", "model__family", "model", "case__malignant", "case__rare")
    search_fields = ("key", "case__key", "model__key")
    list_select_related = ("case", "model")
    raw_id_fields = ("case",)
    inlines = [TurnInline]


class RubricDimensionInline(admin.StackedInline):
    model = RubricDimension
    extra = 0


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "is_default", "rationale_required_at_or_below")
    search_fields = ("key", "name")
    inlines = [RubricDimensionInline]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("conversation", "annotator", "rubric", "status", "version", "submitted_at")
    list_filter = ("status", "rubric", "annotator")
    search_fields = ("conversation__key", "annotator__username")
    list_select_related = ("conversation", "annotator", "rubric")
    raw_id_fields = ("conversation",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.campaign is not None:
            services.refresh_queue(campaign=obj.campaign, conversation_ids=[obj.conversation_id])

    def delete_model(self, request, obj):
        services.delete_annotations(annotations=Annotation.objects.filter(pk=obj.pk), actor=request.user)

    def delete_queryset(self, request, queryset):
        services.delete_annotations(annotations=queryset, actor=request.user)


class CampaignForm(forms.ModelForm):
    """Conversations can be listed one by one or added in bulk by filters (all given filters must match)."""

    add_models = forms.ModelMultipleChoiceField(
        queryset=ModelUnderTest.objects.all(), required=False, label="Add conversations of models"
    )
    add_conditions = forms.MultipleChoiceField(
        choices=Conversation.Condition.choices, required=False, label="…under conditions"
    )
    add_malignant = forms.NullBooleanField(required=False, label="…of malignant cases (unknown: any)")
    add_rare = forms.NullBooleanField(required=False, label="…of rare cases (unknown: any)")
    add_specialty = forms.CharField(required=False, label="…of cases in specialty")

    class Meta:
        model = Campaign
        fields = [
            "name",
            "key",
            "rubric",
            "instructions",
            "state",
            "clinicians",
            "overlap",
            "blinded",
            "lease_minutes",
            "adjudication_threshold",
            "seed",
            "conversations",
        ]

    def filtered_conversations(self):
        data = self.cleaned_data
        if not (
            data.get("add_models")
            or data.get("add_conditions")
            or data.get("add_specialty")
            or data.get("add_malignant") is not None
            or data.get("add_rare") is not None
        ):
            return Conversation.objects.none()
        conversations = Conversation.objects.all()
        if data.get("add_models"):
            conversations = conversations.filter(model__in=data["add_models"])
        if data.get("add_conditions"):
            conversations = conversations.filter(condition__in=data["add_conditions"])
        if data.get("add_malignant") is not None:
            conversations = conversations.filter(case__malignant=data["add_malignant"])
        if data.get("add_rare") is not None:
            conversations = conversations.filter(case__rare=data["add_rare"])
        if data.get("add_specialty"):
            conversations = conversations.filter(case__specialty__iexact=data["add_specialty"])
        return conversations


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "key", "rubric", "overlap", "blinded", "state", "conversation_count", "created_at")
    list_filter = ("state", "blinded", "rubric")
    search_fields = ("name", "key")
    prepopulated_fields = {"key": ("name",)}
    filter_horizontal = ("clinicians",)
    raw_id_fields = ("conversations",)
    readonly_fields = ("created_by", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "key", "rubric", "instructions", "state")}),
        (
            "Who scores what",
            {
                "fields": (
                    "clinicians",
                    "overlap",
                    "blinded",
                    "lease_minutes",
                    "adjudication_threshold",
                    "seed",
                    "conversations",
                )
            },
        ),
        (
            "Add conversations by filter",
            {"fields": ("add_models", "add_conditions", "add_malignant", "add_rare", "add_specialty")},
        ),
        ("Record", {"fields": ("created_by", "created_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_conversations=Count("conversations"))

    @admin.display(description="Conversations", ordering="_conversations")
    def conversation_count(self, campaign: Campaign) -> int:
        return campaign._conversations

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        added = form.filtered_conversations()
        if added.exists():
            form.instance.conversations.add(*added)
            messages.info(request, f"Added {added.count()} conversations matching the filters.")
        services.rebuild_queue(campaign=form.instance)  # overlap, seed or members may have changed


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("campaign", "conversation", "clinician", "state", "leased_at", "lease_expires_at")
    list_filter = ("state", "campaign")
    search_fields = ("conversation__key", "clinician__username")
    list_select_related = ("campaign", "conversation", "clinician")
    raw_id_fields = ("conversation",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.refresh_queue(campaign=obj.campaign, conversation_ids=[obj.conversation_id])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.refresh_queue(campaign=obj.campaign, conversation_ids=[obj.conversation_id])

    def delete_queryset(self, request, queryset):
        touched = list(queryset.values_list("campaign_id", "conversation_id"))
        super().delete_queryset(request, queryset)
        for campaign in Campaign.objects.filter(pk__in={campaign_id for campaign_id, _ in touched}):
            ids = [conversation_id for campaign_id, conversation_id in touched if campaign_id == campaign.pk]
            services.refresh_queue(campaign=campaign, conversation_ids=ids)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "target")
    list_filter = ("action",)
    search_fields = ("target", "actor__username")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
