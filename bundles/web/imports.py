"""The bundle import page: upload a zipped bundle (imported in the background) and follow that import."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation.roles import Action, action_required
from bundles.selectors import recent_uploads, upload_state
from bundles.uploads import queue_bundle_upload


class BundleUploadForm(forms.Form):
    bundle = forms.FileField(
        label="Bundle (.zip)",
        help_text="A benchmark bundle zipped with its manifest.json.",
        error_messages={"required": "Choose a bundle's .zip file to upload.", "empty": "The chosen file is empty."},
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.IMPORT_BUNDLES)
def import_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, BundleUploadForm())
    form = BundleUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    token = queue_bundle_upload(uploaded=form.cleaned_data["bundle"], user=request.user)
    messages.info(request, "The bundle was uploaded; its import runs in the background.")
    return redirect("imports:status", token=token)


def _page(request: HttpRequest, form: BundleUploadForm, *, status: int = 200) -> HttpResponse:
    return render(request, "bundles/imports.html", {"form": form, "uploads": recent_uploads()}, status=status)


@require_GET
@action_required(Action.IMPORT_BUNDLES)
def import_status(request: HttpRequest, token: str) -> HttpResponse:
    state = upload_state(token=token)
    if state is None:
        raise Http404("No such upload.")
    return render(request, "bundles/import_status.html", {"upload": state})
