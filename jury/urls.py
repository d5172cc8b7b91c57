from django.urls import path  # noqa: F401 — jury pages add their routes here

urlpatterns: list = []
