from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import errors, imports, results, runs
from api import views as api

app_name = "api"

router = DefaultRouter()
router.APIRootView = api.ApiRoot
router.register("cases", api.CaseViewSet, basename="case")
router.register("conversations", api.ConversationViewSet, basename="conversation")
router.register("annotations", api.AnnotationViewSet, basename="annotation")
router.register("judgements", api.JudgementViewSet, basename="judgement")
router.register("calibrations", api.CalibrationViewSet, basename="calibration")
router.register("leaderboards", api.LeaderboardSnapshotViewSet, basename="leaderboard")
router.register("judges", runs.JudgeViewSet, basename="judge")
router.register("prompts", runs.PromptViewSet, basename="prompt")

urlpatterns = [
    path("", include(router.urls)),
    path("campaigns/<slug:key>/agreement/", api.campaign_agreement, name="campaign-agreement"),
    path("campaigns/<slug:key>/leaderboard/", api.campaign_leaderboard, name="campaign-leaderboard"),
    path("campaigns/<slug:key>/calibrations/", results.calibrate, name="campaign-calibrate"),
    path("campaigns/<slug:key>/snapshots/", results.publish, name="campaign-publish"),
    path("imports/", imports.import_create, name="import-list"),
    path("imports/<slug:token>/", imports.import_detail, name="import-detail"),
    path("runs/", runs.run_create, name="run-list"),
    path("runs/<int:pk>/", runs.run_detail, name="run-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Anything else under /api/ (an unknown URL, a campaign key that is not a slug, an id that is not a number) is
    # a JSON 404 even with DEBUG on. Only paths ending in "/": CommonMiddleware still adds a missing slash first.
    re_path(r"^.*/$", errors.not_found, name="not-found"),
]
