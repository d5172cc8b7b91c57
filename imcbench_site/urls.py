"""The site's URLs: each area's URL module, mounted under its prefix (names are ``area:name``)."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from api import account
from imcbench_site import probes
from imcbench_site.media import media


class FaviconRedirect(RedirectView):
    """To the favicon's static URL, looked up per request: at import time the manifest may not exist yet."""

    permanent = False  # the hashed name changes with the file

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("favicon.svg")


urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", probes.metrics_view, name="metrics"),
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("account/", account.account, name="account"),
    path("account/token/", account.token_create, name="account-token-create"),
    path("account/token/revoke/", account.token_revoke, name="account-token-revoke"),
    re_path(r"^media/(?P<path>.+)$", media, name="media"),
    path("jury/runs/", include("jury.web.urls.runs")),
    path("generation/runs/", include("generation.web.urls")),
    path("imports/", include("bundles.web.urls")),
    path("campaigns/<slug:key>/", include("jury.web.urls.results")),
    path("leaderboards/", include("jury.web.urls.snapshots")),
    path("exports/", include("jury.web.urls.exports")),
    path("", include("jury.web.urls.agreement")),
    path("", include("annotation.web.urls")),
]

# JSON for /api/ paths, Django's pages elsewhere (these apply with DEBUG off).
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
