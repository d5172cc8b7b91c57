"""Exports: the page, background jobs and their files, and streamed downloads; mounted at ``exports/``."""

from django.urls import path

from jury.web import exports

app_name = "exports"

urlpatterns = [
    path("", exports.export_page, name="page"),
    path("start/", exports.start_export, name="start"),
    path("jobs/<int:pk>/download", exports.job_download, name="job-download"),
    path("<slug:kind>.<slug:fmt>", exports.download, name="download"),
]
