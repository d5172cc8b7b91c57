"""Generation runs: mounted at ``generation/runs/``."""

from django.urls import path

from generation.web import runs

app_name = "generation"

urlpatterns = [
    path("", runs.run_list, name="list"),
    path("new/", runs.run_create, name="create"),
    path("simulated-endpoints/", runs.simulated_endpoints, name="simulated-endpoints"),
    path("<int:pk>/", runs.run_detail, name="detail"),
    path("<int:pk>/launch/", runs.run_launch, name="launch"),
    path("<int:pk>/cancel/", runs.run_cancel, name="cancel"),
    path("<int:pk>/retry/", runs.run_retry, name="retry"),
]
