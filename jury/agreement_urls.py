from django.urls import path  # noqa: F401 — agreement report pages add their routes here

urlpatterns: list = []
