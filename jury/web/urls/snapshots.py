"""A published leaderboard snapshot, page and JSON: mounted at ``leaderboards/``."""

from django.urls import path

from jury.web import snapshots

app_name = "snapshots"

urlpatterns = [
    path("<int:pk>/", snapshots.snapshot_detail, name="detail"),
    path("<int:pk>.json", snapshots.snapshot_json, name="json"),
]
