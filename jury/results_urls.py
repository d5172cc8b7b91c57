from django.urls import path

from . import results_views

urlpatterns = [
    path("campaigns/<slug:key>/calibration/", results_views.calibration_page, name="campaign-calibration"),
    path("campaigns/<slug:key>/leaderboard/", results_views.leaderboard_page, name="campaign-leaderboard"),
]
