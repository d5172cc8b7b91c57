from django.urls import path

from jury import export_views, results_views

urlpatterns = [
    path("campaigns/<slug:key>/calibration/", results_views.calibration_page, name="campaign-calibration"),
    path("campaigns/<slug:key>/leaderboard/", results_views.leaderboard_page, name="campaign-leaderboard"),
    path(
        "campaigns/<slug:key>/calibration/save/", results_views.save_calibration_view, name="campaign-calibration-save"
    ),
    path("exports/<slug:kind>.<slug:fmt>", export_views.download, name="export-download"),
]
