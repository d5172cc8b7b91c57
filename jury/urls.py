from django.urls import path

from jury import views

urlpatterns = [
    path("jury/runs/", views.run_list, name="jury-run-list"),
    path("jury/runs/new/", views.run_create, name="jury-run-create"),
    path("jury/runs/<int:pk>/", views.run_detail, name="jury-run-detail"),
    path("jury/runs/<int:pk>/estimate/", views.run_estimate, name="jury-run-estimate"),
    path("jury/runs/<int:pk>/launch/", views.run_launch, name="jury-run-launch"),
    path("jury/runs/<int:pk>/cancel/", views.run_cancel, name="jury-run-cancel"),
    path("jury/runs/<int:pk>/retry/", views.run_retry, name="jury-run-retry"),
]
