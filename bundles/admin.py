"""The bundle imports in the admin, with the upload page that imports a zipped bundle."""

import tempfile
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from annotation.models import BundleImport
from bundles.importer import import_bundle, read_upload
from bundles.problems import BundleInvalid


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
            *super().get_urls(),
        ]

    def upload_view(self, request):
        form = BundleUploadForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            with tempfile.TemporaryDirectory() as directory:
                saved = read_upload(form.cleaned_data["bundle"], directory=Path(directory))
                try:
                    report = import_bundle(path=saved, actor=request.user)
                except BundleInvalid as error:
                    problems = [str(problem) for problem in error.problems]
                    messages.error(
                        request, f"The bundle was not imported: {len(problems)} problem(s); nothing changed."
                    )
                else:
                    messages.success(request, report.summary())
                    for note in report.notes:
                        messages.warning(request, note)
                    return redirect(reverse("admin:annotation_bundleimport_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "problems": problems,
            "title": "Import a benchmark bundle",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/annotation/bundleimport/upload.html", context)


admin.site.site_header = "IMCBench Studio administration"
admin.site.site_title = "IMCBench Studio admin"
admin.site.index_title = "Cases, conversations, rubrics and imports"
