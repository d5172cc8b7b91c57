from django.urls import path

from annotation.web import campaigns as campaign_views
from annotation.web import pages as views
from annotation.web import sso as sso_views
from annotation.web import workspace as workspace_views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", sso_views.login, name="login"),
    path("logout/", sso_views.logout, name="logout"),
    path("login/sso/", sso_views.start, name="sso-login"),
    path("login/sso/callback/", sso_views.callback, name="sso-callback"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/<str:key>/", views.case_detail, name="case-detail"),
    path("conversations/<str:key>/", views.conversation_detail, name="conversation-detail"),
    path("campaigns/", campaign_views.campaign_list, name="campaign-list"),
    path("campaigns/<slug:key>/", campaign_views.campaign_progress, name="campaign-progress"),
    path("campaigns/<slug:key>/design/", campaign_views.campaign_design, name="campaign-design"),
    path("campaigns/<slug:key>/adjudication/", campaign_views.adjudication_queue, name="adjudication-queue"),
    path("campaigns/<slug:key>/adjudication/<int:conversation_id>/", campaign_views.adjudicate, name="adjudicate"),
    path("work/", workspace_views.my_queue, name="my-queue"),
    path("work/<slug:key>/next/", workspace_views.claim, name="claim"),
    path("work/item/<int:assignment_id>/", workspace_views.workspace, name="workspace"),
    path("work/item/<int:assignment_id>/save/", workspace_views.workspace_save, name="workspace-save"),
    path("work/annotations/<int:annotation_id>/", workspace_views.submitted_annotation, name="submitted-annotation"),
    path("work/annotations/<int:annotation_id>/revise/", workspace_views.revise, name="revise"),
]
