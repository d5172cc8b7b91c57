"""The researchers' REST API (DRF): cases, conversations, annotations, judgements, agreement reports,
calibrations and leaderboards (published snapshots and the live leaderboard of a campaign).

Token or session authentication; researchers and admins only; cursor pagination; OpenAPI schema at /api/schema/.
"""

import re

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import APIRootView

from annotation.models import Annotation, Campaign, Case, Conversation, Image, Turn
from annotation.roles import ALLOWED, Action, HasRole
from api.errors import ApiSchema, Problem, error_responses
from jury.models import CalibrationArtifact, Judgement, LeaderboardSnapshot
from jury.results.agreement import agreement_report
from jury.results.inference import LEGACY_LABEL
from jury.results.leaderboard import NoCalibration, live_leaderboard

RESEARCH_ROLES = tuple(ALLOWED[Action.USE_API])
PAGE_SIZE_PATTERN = re.compile("[0-9]{1,4}")  # ASCII digits only: int() would also take " 5", "٥" or "1_0"


TOKEN_HELP = (
    "Authenticate with a token: make yours on the Account page (/account/) of the studio, where it is shown once, "
    "and send it as the header Authorization: Token <key>. Researchers and admins hold one; revoking it there "
    "refuses every later request that sends it."
)


class ApiRoot(APIRootView):
    __doc__ = f"""The research API of IMCBench Studio: cases with their images and patient profiles, conversations,
    clinician annotations, jury judgements, saved calibrations and published leaderboards, each a list paged by
    cursor; a campaign's agreement report and live leaderboard under campaigns/<key>/. Every endpoint is
    documented at /api/docs/.

    {TOKEN_HELP}
    """

    def get_view_name(self) -> str:
        return "IMCBench Studio API"


class ByIdCursor(CursorPagination):
    """Cursor pages by id. A ``page_size`` that is not a whole number in range is a 400 naming it (DRF would
    silently ignore it); a cursor that is not one of the list's is a 404, as DRF answers it."""

    ordering = "pk"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not PAGE_SIZE_PATTERN.fullmatch(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size} is required."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size, "default": self.page_size}
        return parameters


class ImageSerializer(serializers.ModelSerializer):
    url = serializers.FileField(source="derivative", read_only=True)

    class Meta:
        model = Image
        fields = [
            "position",
            "modality",
            "caption",
            "source",
            "license",
            "original_format",
            "width",
            "height",
            "checksum",
            "url",
        ]


class CaseSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="key")
    images = ImageSerializer(many=True, read_only=True)
    profile = serializers.JSONField(source="profile.summary", read_only=True)

    class Meta:
        model = Case
        fields = ["id", "title", "specialty", "diagnosis", "malignant", "rare", "modality", "tags", "images", "profile"]


class TurnSerializer(serializers.ModelSerializer):
    class Meta:
        model = Turn
        fields = ["index", "role", "content"]


class ConversationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="key")
    case = serializers.CharField(source="case.key")
    model = serializers.CharField(source="model.key")
    family = serializers.CharField(source="model.family")
    turns = TurnSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "case", "model", "family", "condition", "synthetic", "turns"]


class AnnotationSerializer(serializers.ModelSerializer):
    conversation = serializers.CharField(source="conversation.key")
    annotator = serializers.CharField(source="annotator.username")
    campaign = serializers.CharField(source="campaign.key", default=None, allow_null=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "conversation",
            "annotator",
            "campaign",
            "scores",
            "rationale",
            "flags",
            "version",
            "active_seconds",
            "viewer_state",
            "submitted_at",
        ]


class JudgementSerializer(serializers.ModelSerializer):
    conversation = serializers.CharField(source="conversation.key")
    judge = serializers.CharField(source="judge.key")
    prompt = serializers.CharField(source="prompt.reference")

    class Meta:
        model = Judgement
        fields = [
            "id",
            "conversation",
            "judge",
            "prompt",
            "dimension",
            "sample_index",
            "status",
            "score",
            "rationale",
            "usage",
            "cost",
            "latency_ms",
            "cached",
        ]


class CalibrationSerializer(serializers.ModelSerializer):
    campaign = serializers.CharField(source="campaign.key")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)

    class Meta:
        model = CalibrationArtifact
        fields = [
            "id",
            "campaign",
            "version",
            "inputs_hash",
            "seed",
            "methods",
            "report",
            "app_version",
            "created_by",
            "created_at",
        ]


class ResearchViewSet(viewsets.ReadOnlyModelViewSet):
    schema = ApiSchema()
    permission_classes = [HasRole]
    required_roles = RESEARCH_ROLES
    pagination_class = ByIdCursor

    def get_object(self):
        if "\x00" in str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")):
            raise Http404("No such object.")  # no stored key holds a NUL character (PostgreSQL refuses them)
        return super().get_object()

    def filtered(self, queryset, filters: dict[str, str]):
        """A list narrowed by the query parameters ``filters`` names (parameter → lookup); an object's page ignores
        them. A value no stored text can hold (a NUL character, which PostgreSQL refuses) matches nothing."""
        if self.action != "list":
            return queryset
        for param, lookup in filters.items():
            if value := self.request.query_params.get(param):
                queryset = queryset.none() if "\x00" in value else queryset.filter(**{lookup: value})
        return queryset


class CaseViewSet(ResearchViewSet):
    serializer_class = CaseSerializer
    lookup_field = "key"
    queryset = Case.objects.select_related("profile").prefetch_related("images")


@extend_schema(
    parameters=[
        OpenApiParameter(name, str, description=f"filter by {name}")
        for name in ("model", "family", "condition", "case")
    ]
)
class ConversationViewSet(ResearchViewSet):
    serializer_class = ConversationSerializer
    lookup_field = "key"

    def get_queryset(self):
        conversations = Conversation.objects.select_related("case", "model").prefetch_related("turns")
        filters = {"model": "model__key", "family": "model__family", "condition": "condition", "case": "case__key"}
        return self.filtered(conversations, filters)


@extend_schema(parameters=[OpenApiParameter("campaign", str), OpenApiParameter("conversation", str)])
class AnnotationViewSet(ResearchViewSet):
    """Submitted clinician annotations (drafts are private to their clinician)."""

    serializer_class = AnnotationSerializer

    def get_queryset(self):
        annotations = Annotation.objects.filter(status=Annotation.Status.SUBMITTED).select_related(
            "conversation", "annotator", "campaign"
        )
        return self.filtered(annotations, {"campaign": "campaign__key", "conversation": "conversation__key"})


@extend_schema(parameters=[OpenApiParameter(name, str) for name in ("judge", "dimension", "conversation")])
class JudgementViewSet(ResearchViewSet):
    serializer_class = JudgementSerializer

    def get_queryset(self):
        judgements = Judgement.objects.select_related("conversation", "judge", "prompt")
        filters = {"judge": "judge__key", "dimension": "dimension", "conversation": "conversation__key"}
        return self.filtered(judgements, filters)


class CalibrationViewSet(ResearchViewSet):
    """Saved calibration artefacts (methods, weights, fold metrics, inputs hash)."""

    serializer_class = CalibrationSerializer
    queryset = CalibrationArtifact.objects.select_related("campaign", "created_by")


@extend_schema(
    responses={
        200: OpenApiResponse(response=dict, description="The agreement report."),
        **error_responses(lookup=True, listing=False),
    },
    description="The campaign's clinician agreement report (as the JSON download).",
)
@api_view(["GET"])
@permission_classes([HasRole])
def campaign_agreement(request: Request, key: str) -> Response:

    campaign = get_object_or_404(Campaign, key=key)
    return Response(agreement_report(campaign=campaign))


campaign_agreement.cls.required_roles = RESEARCH_ROLES


class LeaderboardSnapshotSerializer(serializers.ModelSerializer):
    campaign = serializers.CharField(source="campaign.key")
    calibration_version = serializers.IntegerField(source="calibration.version")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    estimator = serializers.SerializerMethodField(
        help_text="What the figures are: {name, version, calibration_refit, …}; for a snapshot published before the "
        "prediction-powered estimates, {name: 'jury only', note: …}."
    )

    def get_estimator(self, snapshot) -> dict:
        return snapshot.payload.get("estimator") or {"name": "jury only", "note": LEGACY_LABEL}

    class Meta:
        model = LeaderboardSnapshot
        fields = [
            "id",
            "campaign",
            "calibration",
            "calibration_version",
            "inputs_hash",
            "judgement_set_hash",
            "content_hash",
            "n_conversations",
            "synthetic",
            "simulated",
            "estimator",
            "app_version",
            "created_by",
            "created_at",
        ]


class LeaderboardSnapshotDetailSerializer(LeaderboardSnapshotSerializer):
    class Meta(LeaderboardSnapshotSerializer.Meta):
        fields = [*LeaderboardSnapshotSerializer.Meta.fields, "payload"]


@extend_schema(parameters=[OpenApiParameter("campaign", str, description="filter by campaign key")])
class LeaderboardSnapshotViewSet(ResearchViewSet):
    """Published, frozen leaderboards; the list gives their provenance, a detail adds the full payload."""

    def get_serializer_class(self):
        return LeaderboardSnapshotDetailSerializer if self.action == "retrieve" else LeaderboardSnapshotSerializer

    def get_queryset(self):
        snapshots = LeaderboardSnapshot.objects.select_related("campaign", "calibration", "created_by")
        return self.filtered(snapshots, {"campaign": "campaign__key"})


@extend_schema(
    responses={
        200: OpenApiResponse(
            response=dict,
            description="The leaderboard of the campaign's latest saved calibration over the judgements and the "
            "clinicians' scores as they are now (models and families, overall and per dimension: the PPI, "
            "clinicians-only and jury-only estimates with 95 % intervals, n's, ESS and rank intervals; subgroups, "
            "ablations, synthetic/simulated labels; `estimator` says how the calibration is refitted) and its "
            "provenance.",
        ),
        **error_responses(lookup=True, listing=False),
        404: OpenApiResponse(response=Problem, description="No such campaign."),
        409: OpenApiResponse(
            response=Problem, description="No saved calibration, or none of the judgements can be ranked."
        ),
    },
)
@api_view(["GET"])
@permission_classes([HasRole])
def campaign_leaderboard(request: Request, key: str) -> Response:

    campaign = Campaign.objects.filter(key=key).first()
    if campaign is None:
        return Response({"detail": f"No campaign {key!r}."}, status=status.HTTP_404_NOT_FOUND)
    try:
        return Response(live_leaderboard(campaign=campaign))
    except (NoCalibration, ValueError) as error:
        return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)


campaign_leaderboard.cls.required_roles = RESEARCH_ROLES
