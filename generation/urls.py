from django.urls import path

from generation import views

urlpatterns = [
    path("generation/runs/", views.run_list, name="generation-run-list"),
    path("generation/runs/new/", views.run_create, name="generation-run-create"),
    path("generation/runs/<int:pk>/", views.run_detail, name="generation-run-detail"),
    path("generation/runs/<int:pk>/launch/", views.run_launch, name="generation-run-launch"),
    path("generation/runs/<int:pk>/cancel/", views.run_cancel, name="generation-run-cancel"),
    path("generation/runs/<int:pk>/retry/", views.run_retry, name="generation-run-retry"),
]
