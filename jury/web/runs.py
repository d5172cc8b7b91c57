"""Jury run pages: the list with the launch form, a run's live progress (htmx polling), its actions."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Conversation, ModelUnderTest
from annotation.roles import Action, action_required, may
from engine.pages import launch_from_page, render_run_page
from imcbench_site.http import HtmxHttpRequest
from jury import selectors, services
from jury.models import JuryRun


class LaunchForm(forms.Form):
    name = forms.CharField(max_length=200)
    judges = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, error_messages={"required": "Tick at least one judge."}
    )
    prompts = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, error_messages={"required": "Tick at least one prompt."}
    )
    models = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every model."
    )
    conditions = forms.MultipleChoiceField(
        choices=Conversation.Condition.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every condition.",
    )
    samples = forms.IntegerField(min_value=1, max_value=20, initial=1)
    budget = forms.DecimalField(required=False, min_value=Decimal("0"), decimal_places=4, help_text="Money cap (USD).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judges"].queryset = selectors.launchable_judges()
        self.fields["prompts"].queryset = selectors.launchable_prompts()
        self.fields["models"].queryset = ModelUnderTest.objects.order_by("key")


@require_GET
@action_required(Action.RUN_JURY)
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    form = LaunchForm(initial={"name": "Jury run"}) if may(request.user, Action.RUN_JURY) else None
    return render(request, "jury/runs/list.html", {"runs": selectors.runs()[:100], "form": form})


@require_POST
@action_required(Action.RUN_JURY)
def run_create(request: HtmxHttpRequest) -> HttpResponse:
    """Create a draft run and estimate it; launching is a second, deliberate step on the run page."""
    form = LaunchForm(request.POST)
    if not form.is_valid():
        return render(request, "jury/runs/list.html", {"runs": selectors.runs()[:100], "form": form}, status=400)
    data = form.cleaned_data
    selection = {}
    if data["models"]:
        selection["models"] = [model.key for model in data["models"]]
    if data["conditions"]:
        selection["conditions"] = list(data["conditions"])
    try:
        with transaction.atomic():
            run = services.create_run(
                name=data["name"],
                judges=list(data["judges"]),
                prompts=list(data["prompts"]),
                selection=selection,
                samples=data["samples"],
                budget=data["budget"],
                created_by=request.user,
            )
            services.request_estimate(run=run)
    except services.JuryError as error:
        form.add_error(None, str(error))
        return render(request, "jury/runs/list.html", {"runs": selectors.runs()[:100], "form": form}, status=400)
    return redirect("runs:detail", pk=run.pk)


@require_GET
@action_required(Action.RUN_JURY)
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(JuryRun, pk=pk)
    context = {
        "run": run,
        "progress": selectors.run_progress(run=run),
        "failures": selectors.run_failures(run=run),
        "can_manage": may(request.user, Action.RUN_JURY),
    }
    return render_run_page(request, "jury/runs/detail.html", context)


@require_GET
@action_required(Action.RUN_JURY)
def run_estimate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The estimate section alone: the run page polls it while the estimate is being computed."""
    run = get_object_or_404(JuryRun, pk=pk)
    return render(request, "jury/runs/detail.html#run-estimate", {"run": run})


@require_POST
@action_required(Action.RUN_JURY)
def run_launch(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(JuryRun, pk=pk)
    launch_from_page(request, run=run, launch=services.launch_run, refused=services.JuryError, label="Run")
    return redirect("runs:detail", pk=run.pk)


@require_POST
@action_required(Action.RUN_JURY)
def run_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = services.cancel_run(run=get_object_or_404(JuryRun, pk=pk))
    messages.success(request, f"Run {run.pk}: {run.get_status_display().lower()}.")
    return redirect("runs:detail", pk=run.pk)


@require_POST
@action_required(Action.RUN_JURY)
def run_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    count = services.retry_failed(run=get_object_or_404(JuryRun, pk=pk))
    messages.success(request, f"{count} item{'s' if count != 1 else ''} queued again.")
    return redirect("runs:detail", pk=pk)
