from django.contrib import admin

from engine.models import CacheEntry
from jury.models import (
    CalibrationArtifact,
    ExportJob,
    Judge,
    Judgement,
    JudgePrompt,
    JuryRun,
    LeaderboardSnapshot,
    WorkItem,
)


@admin.register(Judge)
class JudgeAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "provider", "model_id", "family", "accepts_images", "active")
    list_filter = ("provider", "family", "accepts_images", "active")
    search_fields = ("key", "name", "model_id")


@admin.register(JudgePrompt)
class JudgePromptAdmin(admin.ModelAdmin):
    list_display = ("key", "version", "dimension", "style", "content_hash")
    list_filter = ("dimension", "style")
    search_fields = ("key",)
    readonly_fields = ("content_hash", "source_path")


@admin.register(Judgement)
class JudgementAdmin(admin.ModelAdmin):
    list_display = (
        "conversation",
        "judge",
        "prompt",
        "dimension",
        "sample_index",
        "status",
        "score",
        "cached",
        "simulated",
        "run",
    )
    list_filter = ("status", "dimension", "judge", "cached", "simulated")
    search_fields = ("conversation__key", "judge__key", "request_id")
    list_select_related = ("conversation", "judge", "prompt", "run")
    raw_id_fields = ("conversation", "run")


@admin.register(JuryRun)
class JuryRunAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "status", "samples", "budget", "created_by", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("name",)
    filter_horizontal = ("judges", "prompts")
    readonly_fields = ("estimate", "started_at", "finished_at", "created_by")


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
    list_display = ("key", "run", "conversation", "judge", "prompt", "dimension", "status", "provider_calls", "cached")
    list_filter = ("status", "cached", "dimension")
    search_fields = ("key", "conversation__key", "error")
    list_select_related = ("run", "conversation", "judge", "prompt")
    raw_id_fields = ("run", "conversation", "judgement")


@admin.register(CacheEntry)
class CacheEntryAdmin(admin.ModelAdmin):
    list_display = ("key", "provider", "model_id", "input_tokens", "output_tokens", "created_at")
    list_filter = ("provider",)
    search_fields = ("key", "model_id", "request_id")


@admin.register(CalibrationArtifact)
class CalibrationArtifactAdmin(admin.ModelAdmin):
    """Artefacts are evidence: read-only here, made by ``save_calibration``."""

    list_display = ("campaign", "version", "methods", "inputs_hash", "app_version", "created_by", "created_at")
    list_filter = ("campaign",)
    readonly_fields = [field.name for field in CalibrationArtifact._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence and records of work done: shown, never added, edited or deleted here."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(_ReadOnlyAdmin):
    """Published leaderboards, made by ``publish_leaderboard``."""

    list_display = ("id", "campaign", "calibration", "n_conversations", "content_hash", "synthetic", "created_at")
    list_filter = ("campaign", "synthetic", "simulated")
    list_select_related = ("campaign", "calibration")


@admin.register(ExportJob)
class ExportJobAdmin(_ReadOnlyAdmin):
    """Background exports, started from the exports page."""

    list_display = ("id", "kind", "format", "status", "rows_written", "rows_total", "size", "created_by", "created_at")
    list_filter = ("kind", "format", "status")
    search_fields = ("sha256", "error")
