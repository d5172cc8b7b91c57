"""The account page: a researcher's or admin's API token, made (its key shown once), seen to exist, and revoked.

Clinicians and adjudicators have no API to call (every endpoint is a research endpoint), so they get no token.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from annotation.roles import Action, action_required
from api import tokens

TEMPLATE = "api/account.html"


@require_GET
@never_cache
@action_required(Action.USE_API)
def account(request: HttpRequest) -> HttpResponse:
    token = Token.objects.filter(user=request.user).first()
    return render(request, TEMPLATE, {"token": token, "new_key": None})


@require_POST
@never_cache
@action_required(Action.USE_API)
def token_create(request: HttpRequest) -> HttpResponse:
    token, created = tokens.create_token(user=request.user)
    if not created:
        messages.info(request, "You already hold a token; its key is not shown again. Revoke it to make a new one.")
        return redirect("account")
    return render(request, TEMPLATE, {"token": token, "new_key": token.key})


@require_POST
@action_required(Action.USE_API)
def token_revoke(request: HttpRequest) -> HttpResponse:
    if tokens.revoke_token(user=request.user):
        messages.success(request, "Token revoked: requests that send it are now refused.")
    else:
        messages.info(request, "You held no token.")
    return redirect("account")
