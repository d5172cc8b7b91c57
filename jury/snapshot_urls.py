"""Published leaderboard snapshots and the background exports page."""

from django.urls import path

from jury import export_views, snapshot_views

urlpatterns = [
    path("campaigns/<slug:key>/leaderboard/snapshots/", snapshot_views.snapshot_list, name="leaderboard-snapshot-list"),
    path(
        "campaigns/<slug:key>/leaderboard/snapshots/publish/",
        snapshot_views.snapshot_publish,
        name="leaderboard-snapshot-publish",
    ),
    path("leaderboards/<int:pk>/", snapshot_views.snapshot_detail, name="leaderboard-snapshot-detail"),
    path("leaderboards/<int:pk>.json", snapshot_views.snapshot_json, name="leaderboard-snapshot-json"),
    path("exports/", export_views.export_page, name="export-page"),
    path("exports/start/", export_views.start_export, name="export-start"),
    path("exports/jobs/<int:pk>/download", export_views.job_download, name="export-job-download"),
]
