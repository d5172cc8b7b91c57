from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from annotation.views import media

urlpatterns = [
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("api/", include("jury.api_urls")),
    re_path(r"^media/(?P<path>.+)$", media, name="media"),
    path("", include("annotation.urls")),
    path("", include("jury.urls")),
    path("", include("jury.agreement_urls")),
    path("", include("jury.results_urls")),
    path("", include("generation.urls")),
    path("", include("jury.snapshot_urls")),
]
