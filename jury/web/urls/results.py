"""A campaign's calibration and leaderboard, and its published snapshots: mounted under ``campaigns/<key>/``."""

from django.urls import path

from jury.web import results, snapshots

app_name = "results"

urlpatterns = [
    path("calibration/", results.calibration_page, name="calibration"),
    path("calibration/save/", results.save_calibration_view, name="calibration-save"),
    path("leaderboard/", results.leaderboard_page, name="leaderboard"),
    path("planning/", results.planning_panel, name="planning"),
    path("review/", results.review_panel, name="review"),
    path("leaderboard/snapshots/", snapshots.snapshot_list, name="snapshot-list"),
    path("leaderboard/snapshots/publish/", snapshots.snapshot_publish, name="snapshot-publish"),
]
