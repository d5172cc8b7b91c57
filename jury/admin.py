from django.contrib import admin

from .models import Judge, Judgement, JudgePrompt


@admin.register(Judge)
class JudgeAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "provider", "model_id", "family", "accepts_images")
    list_filter = ("provider", "family", "accepts_images")
    search_fields = ("key", "name", "model_id")


@admin.register(JudgePrompt)
class JudgePromptAdmin(admin.ModelAdmin):
    list_display = ("key", "version", "dimension", "content_hash")
    list_filter = ("dimension",)
    search_fields = ("key",)


@admin.register(Judgement)
class JudgementAdmin(admin.ModelAdmin):
    list_display = ("conversation", "judge", "prompt", "dimension", "sample_index", "status", "score", "cached")
    list_filter = ("status", "dimension", "judge", "cached")
    search_fields = ("conversation__key", "judge__key")
    list_select_related = ("conversation", "judge", "prompt")
    raw_id_fields = ("conversation",)
