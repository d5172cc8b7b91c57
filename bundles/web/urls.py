"""Bundle imports: mounted at ``imports/``."""

from django.urls import path

from bundles.web import imports

app_name = "imports"

urlpatterns = [
    path("", imports.import_page, name="page"),
    path("<str:token>/", imports.import_status, name="status"),
]
