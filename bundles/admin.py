"""The bundle imports in the admin; uploading one is the site's import page (``bundles.web.imports``), which
researchers use too."""

from django.contrib import admin

from annotation.models import BundleImport
from bundles.selectors import recent_uploads


@admin.register(BundleImport)
class BundleImportAdmin(admin.ModelAdmin):
    list_display = ("name", "imported_at", "imported_by", "synthetic", "content_hash")
    list_filter = ("synthetic",)
    search_fields = ("name", "content_hash")
    readonly_fields = [field.name for field in BundleImport._meta.fields]
    change_list_template = "admin/annotation/bundleimport/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "uploads": recent_uploads()})


admin.site.site_header = "IMCBench Studio administration"
admin.site.site_title = "IMCBench Studio admin"
admin.site.index_title = "Cases, conversations, rubrics and imports"
