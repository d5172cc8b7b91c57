"""Single sign-on pages: the redirect to the identity provider, its callback, and logging out of both.

mozilla-django-oidc's views do the work; these answer 404 while single sign-on is not configured.
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView, OIDCLogoutView

_start = OIDCAuthenticationRequestView.as_view()
_callback = OIDCAuthenticationCallbackView.as_view()
_logout = OIDCLogoutView.as_view()


def _require_sso() -> None:
    if not settings.OIDC_ENABLED:
        raise Http404("Single sign-on is not configured on this site.")


@require_GET
def start(request: HttpRequest) -> HttpResponse:
    _require_sso()
    return _start(request)


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    _require_sso()
    return _callback(request)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Every account's logout; a single sign-on session also ends at the provider (``annotation.sso.logout_url``)."""
    return _logout(request)


class LoginView(auth_views.LoginView):
    """Django's login form, offering the identity provider's login above it when single sign-on is configured."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["sso_name"] = settings.OIDC_PROVIDER_NAME if settings.OIDC_ENABLED else None
        context["sso_failed"] = self.request.GET.get("sso") == "failed"
        return context


login = LoginView.as_view()
