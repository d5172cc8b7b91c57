"""Clinician agreement: the campaign index at ``agreement/`` and each campaign's report under ``campaigns/<key>/``."""

from django.urls import path

from jury.web import agreement

app_name = "agreement"

urlpatterns = [
    path("agreement/", agreement.agreement_index, name="index"),
    path("campaigns/<slug:key>/agreement/", agreement.campaign_agreement, name="campaign"),
    path("campaigns/<slug:key>/agreement.json", agreement.campaign_agreement_json, name="json"),
    path("campaigns/<slug:key>/agreement.csv", agreement.campaign_agreement_csv, name="csv"),
    path(
        "campaigns/<slug:key>/agreement/plots/<slug:plot>/<path:dimension>.svg",
        agreement.campaign_agreement_plot,
        name="plot",
    ),
]
