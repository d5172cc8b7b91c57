"""Jury runs through the API: the judges and prompts to choose from, creating and launching a run, its progress.

A run is created with its work items (every selected conversation × judge × prompt × sample) and, unless
``launch`` is false, launched on the ``jury`` Celery queue; ``GET /api/runs/<id>/`` gives its live progress.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Conversation
from annotation.roles import HasRole
from api import idempotency
from api.endpoints import RESEARCH_ROLES, research_endpoint
from api.errors import ApiSchema, unprocessable, write_errors
from api.views import ByIdCursor
from jury import selectors, services
from jury.models import Judge, JudgePrompt, JuryRun


class JudgeSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="key")

    class Meta:
        model = Judge
        fields = ["id", "name", "provider", "model_id", "family", "accepts_images", "active", "simulated"]


class PromptSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="reference", help_text="key@version, as a run names it.")

    class Meta:
        model = JudgePrompt
        fields = ["id", "key", "version", "dimension", "style", "content_hash"]


class ResearchListViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    schema = ApiSchema()
    permission_classes = [HasRole]
    required_roles = RESEARCH_ROLES
    pagination_class = ByIdCursor


class JudgeViewSet(ResearchListViewSet):
    """The judges a run may use (``active``) and those only imported judgements name."""

    serializer_class = JudgeSerializer
    queryset = Judge.objects.all()


class PromptViewSet(ResearchListViewSet):
    """The prompt versions a run may use: those with a template (synced from the prompt files)."""

    serializer_class = PromptSerializer
    queryset = JudgePrompt.objects.exclude(template="")


class SelectionSerializer(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    conditions = serializers.ListField(
        child=serializers.ChoiceField(choices=Conversation.Condition.values), required=False
    )
    keys = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=100_000)


class RunRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, default="API jury run")
    judges = serializers.ListField(
        child=serializers.CharField(max_length=200), min_length=1, max_length=50, help_text="Judge ids."
    )
    prompts = serializers.ListField(
        child=serializers.CharField(max_length=241), min_length=1, max_length=100, help_text="key@version each."
    )
    selection = SelectionSerializer(
        required=False, help_text="Which conversations (each list narrows; none given: every conversation)."
    )
    samples = serializers.IntegerField(min_value=1, max_value=20, default=1)
    budget = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=0, required=False, allow_null=True, help_text="Money cap (USD)."
    )
    launch = serializers.BooleanField(default=True, help_text="false: create a draft run only.")

    def validate_judges(self, keys: list[str]) -> list[Judge]:
        judges = {j.key: j for j in Judge.objects.filter(key__in=keys)}
        unknown = [k for k in dict.fromkeys(keys) if k not in judges]
        if unknown:
            raise serializers.ValidationError([f"No judge {k!r}." for k in unknown])
        inactive = [k for k in dict.fromkeys(keys) if not judges[k].active]
        if inactive:
            raise serializers.ValidationError([f"Judge {k!r} is not offered for runs (not active)." for k in inactive])
        return [judges[k] for k in dict.fromkeys(keys)]

    def validate_prompts(self, references: list[str]) -> list[JudgePrompt]:
        found, problems = [], []
        for reference in dict.fromkeys(references):
            key, at, version = reference.rpartition("@")
            prompt = JudgePrompt.objects.filter(key=key, version=version).first() if at else None
            if prompt is None:
                problems.append(f"No prompt {reference!r} (name it key@version).")
            elif not prompt.template:
                problems.append(f"Prompt {reference!r} has no template: sync the prompt files first.")
            else:
                found.append(prompt)
        if problems:
            raise serializers.ValidationError(problems)
        return found


class RunSerializer(serializers.ModelSerializer):
    judges = serializers.SlugRelatedField(many=True, read_only=True, slug_field="key")
    prompts = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField(
        help_text="total, done, failed, pending, running, cancelled items; percent finished; cost (USD); "
        "eta_seconds while running."
    )
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = JuryRun
        fields = [
            "id",
            "name",
            "status",
            "message",
            "judges",
            "prompts",
            "selection",
            "samples",
            "budget",
            "created_at",
            "started_at",
            "finished_at",
            "progress",
            "status_url",
        ]

    def get_prompts(self, run) -> list[str]:
        return [prompt.reference for prompt in run.prompts.all()]

    def get_progress(self, run) -> dict:
        progress = selectors.run_progress(run=run)
        names = ("total", "done", "failed", "pending", "running", "cancelled", "percent", "eta_seconds")
        return {name: progress[name] for name in names} | {"cost": str(progress["cost"])}

    def get_status_url(self, run) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:run-detail", args=[run.pk]))


@research_endpoint(
    methods=["POST"],
    request=RunRequestSerializer,
    parameters=[idempotency.PARAMETER],
    responses={201: RunSerializer, **write_errors()},
    description="Create a jury run over the selected conversations and launch it (unless launch is false).",
)
def run_create(request: Request) -> Response:
    return idempotency.respond_once(request, lambda: _create(request))


def _create(request: Request) -> Response:
    form = RunRequestSerializer(data=request.data)
    if not form.is_valid():
        return unprocessable(form.errors)
    data = form.validated_data
    selection = {name: values for name, values in data.get("selection", {}).items() if values}
    try:
        with transaction.atomic():
            run = services.create_run(
                name=data["name"],
                judges=data["judges"],
                prompts=data["prompts"],
                selection=selection,
                samples=data["samples"],
                budget=data.get("budget"),
                created_by=request.user,
            )
            services.request_estimate(run=run)
            if data["launch"]:
                run = services.launch_run(run=run)
    except services.JuryError as error:  # judges and prompts were checked above: what is left is the selection
        return Response({"selection": [str(error)]}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    body = RunSerializer(run, context={"request": request}).data
    return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["status_url"]})


@research_endpoint(methods=["GET"], responses={200: RunSerializer}, description="A jury run and its live progress.")
def run_detail(request: Request, pk: int) -> Response:
    run = get_object_or_404(JuryRun, pk=pk)
    return Response(RunSerializer(run, context={"request": request}).data)
