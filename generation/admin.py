from django.contrib import admin

from generation.models import GenerationCall, GenerationItem, GenerationRun, ModelEndpoint


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    list_display = (
        "model_under_test",
        "provider",
        "model_id",
        "accepts_images",
        "input_price_per_mtok",
        "output_price_per_mtok",
    )
    list_filter = ("provider", "accepts_images")
    search_fields = ("model_under_test__key", "model_under_test__name", "model_id")
    list_select_related = ("model_under_test",)


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "status", "max_turns", "patient_provider", "budget", "created_by", "created_at")
    list_filter = ("status", "patient_provider")
    search_fields = ("name",)
    filter_horizontal = ("models_under_test",)
    readonly_fields = ("prompts", "estimate", "started_at", "finished_at", "created_by")


class GenerationCallInline(admin.TabularInline):
    model = GenerationCall
    extra = 0
    can_delete = False
    fields = ("turn", "role", "provider", "model_id", "input_tokens", "output_tokens", "cost", "latency_ms", "cached")
    readonly_fields = fields


@admin.register(GenerationItem)
class GenerationItemAdmin(admin.ModelAdmin):
    list_display = ("key", "run", "case", "model", "condition", "status", "turns", "provider_calls", "cost")
    list_filter = ("status", "condition")
    search_fields = ("key", "case__key", "model__key", "error")
    list_select_related = ("run", "case", "model")
    raw_id_fields = ("run", "case", "model", "conversation")
    inlines = [GenerationCallInline]


@admin.register(GenerationCall)
class GenerationCallAdmin(admin.ModelAdmin):
    list_display = ("item", "turn", "role", "provider", "model_id", "input_tokens", "output_tokens", "cost", "cached")
    list_filter = ("role", "provider", "cached")
    search_fields = ("item__key", "model_id", "request_id", "cache_key")
    raw_id_fields = ("item",)
