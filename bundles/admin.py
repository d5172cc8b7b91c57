"""The bundle imports in the admin, with the upload page that queues a zipped bundle for import and the page
that follows that upload until its background import ends."""

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from annotation.models import BundleImport
from bundles.selectors import recent_uploads, upload_state
from bundles.uploads import queue_bundle_upload


class BundleUploadForm(forms.Form):
    bundle = forms.FileField(label="Bundle (.zip)", help_text="A benchmark bundle zipped with its manifest.json.")


@admin.register(BundleImport)
class BundleImportAdmin(admin.ModelAdmin):
    list_display = ("name", "imported_at", "imported_by", "synthetic", "content_hash")
    list_filter = ("synthetic",)
    search_fields = ("name", "content_hash")
    readonly_fields = [field.name for field in BundleImport._meta.fields]
    change_list_template = "admin/annotation/bundleimport/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="annotation_bundleimport_upload"),
            path(
                "upload/<str:token>/",
                self.admin_site.admin_view(self.upload_status_view),
                name="annotation_bundleimport_upload_status",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "uploads": recent_uploads()})

    def upload_view(self, request):
        form = BundleUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            token = queue_bundle_upload(uploaded=form.cleaned_data["bundle"], user=request.user)
            messages.info(request, "The bundle was uploaded; its import runs in the background.")
            return redirect(reverse("admin:annotation_bundleimport_upload_status", args=[token]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Import a benchmark bundle",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/annotation/bundleimport/upload.html", context)

    def upload_status_view(self, request, token: str):
        state = upload_state(token=token)
        if state is None:
            raise Http404("No such upload")
        context = {
            **self.admin_site.each_context(request),
            "upload": state,
            "title": f"Import of {state.file}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/annotation/bundleimport/upload_status.html", context)


admin.site.site_header = "IMCBench Studio administration"
admin.site.site_title = "IMCBench Studio admin"
admin.site.index_title = "Cases, conversations, rubrics and imports"
