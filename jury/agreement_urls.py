from django.urls import path

from jury import agreement_views

urlpatterns = [
    path("agreement/", agreement_views.agreement_index, name="agreement-index"),
    path("campaigns/<slug:key>/agreement/", agreement_views.campaign_agreement, name="campaign-agreement"),
    path(
        "campaigns/<slug:key>/agreement.json", agreement_views.campaign_agreement_json, name="campaign-agreement-json"
    ),
    path("campaigns/<slug:key>/agreement.csv", agreement_views.campaign_agreement_csv, name="campaign-agreement-csv"),
    path(
        "campaigns/<slug:key>/agreement/plots/<slug:plot>/<path:dimension>.svg",
        agreement_views.campaign_agreement_plot,
        name="campaign-agreement-plot",
    ),
]
