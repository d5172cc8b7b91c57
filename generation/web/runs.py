"""Generation run pages: the list with the launch form, a run's estimate and live progress (htmx polling), its
actions. Researchers and admins only."""

import re
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Conversation
from annotation.roles import Action, action_required
from engine.pages import launch_from_page, render_run_page
from engine.providers import PROVIDERS
from generation import selectors, services
from generation.models import GenerationRun
from imcbench_site.http import HtmxHttpRequest


class LaunchForm(forms.Form):
    name = forms.CharField(max_length=200)
    models = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text="Models under test with an endpoint (how to reach the model: its provider, model id and prices).",
        error_messages={"required": "Tick at least one model under test."},
    )
    conditions = forms.MultipleChoiceField(
        choices=Conversation.Condition.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=services.CONDITIONS,
        error_messages={"required": "Tick at least one condition."},
    )
    specialties = forms.MultipleChoiceField(
        choices=(), required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every specialty."
    )
    case_keys = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Case ids separated by spaces or commas; empty: every case (of the ticked specialties).",
    )
    max_turns = forms.IntegerField(
        min_value=1, max_value=20, initial=4, help_text="Exchanges at most; either side may end sooner."
    )
    seed = forms.IntegerField(initial=0, help_text="Seeds the patient simulator.")
    patient_provider = forms.ChoiceField(choices=[(name, name) for name in PROVIDERS], initial="simulated")
    patient_model_id = forms.CharField(max_length=200, initial="simulated/patient")
    patient_input_price = forms.DecimalField(
        min_value=Decimal("0"), decimal_places=4, initial=Decimal("0"), help_text="USD per million input tokens."
    )
    patient_output_price = forms.DecimalField(
        min_value=Decimal("0"), decimal_places=4, initial=Decimal("0"), help_text="USD per million output tokens."
    )
    budget = forms.DecimalField(required=False, min_value=Decimal("0"), decimal_places=4, help_text="Money cap (USD).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["models"].queryset = selectors.models_with_endpoints()
        self.fields["specialties"].choices = [(name, name) for name in selectors.specialties()]

    def case_selection(self) -> dict:
        data, selection = self.cleaned_data, {}
        keys = [key for key in re.split(r"[\s,]+", data["case_keys"]) if key]
        if keys:
            selection["keys"] = keys
        if data["specialties"]:
            selection["specialties"] = list(data["specialties"])
        return selection


def _list(request, form, *, status: int = 200) -> HttpResponse:
    context = {"runs": selectors.runs()[:100], "form": form, "without_endpoint": selectors.models_without_endpoints()}
    return render(request, "generation/runs/list.html", context, status=status)


@require_GET
@action_required(Action.GENERATE)
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    return _list(request, LaunchForm(initial={"name": "Generation run"}))


@require_POST
@action_required(Action.GENERATE)
def run_create(request: HtmxHttpRequest) -> HttpResponse:
    """Create a draft run and estimate it; launching is a second, deliberate step on the run page."""
    form = LaunchForm(request.POST)
    if not form.is_valid():
        return _list(request, form, status=400)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            run = services.create_run(
                name=data["name"],
                models=list(data["models"]),
                conditions=data["conditions"],
                case_selection=form.case_selection(),
                max_turns=data["max_turns"],
                seed=data["seed"],
                patient_provider=data["patient_provider"],
                patient_model_id=data["patient_model_id"],
                patient_prices=(data["patient_input_price"], data["patient_output_price"]),
                budget=data["budget"],
                created_by=request.user,
            )
            services.estimate_run(run=run)
    except services.GenerationError as error:
        form.add_error(None, str(error))
        return _list(request, form, status=400)
    return redirect("generation:detail", pk=run.pk)


@require_POST
@action_required(Action.GENERATE)
def simulated_endpoints(request: HtmxHttpRequest) -> HttpResponse:
    """Give every model under test without an endpoint a simulated one, so the demo's stand-ins can be run."""
    models = list(selectors.models_without_endpoints())
    services.ensure_simulated_endpoints(models=models)
    names = ", ".join(model.name for model in models) or "none"
    messages.success(request, f"Simulated endpoints added for {len(models)} model(s): {names}.")
    return redirect("generation:list")


@require_GET
@action_required(Action.GENERATE)
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(GenerationRun, pk=pk)
    context = {
        "run": run,
        "progress": selectors.run_progress(run=run),
        "conversations": selectors.run_conversations(run=run),
        "failures": selectors.run_failures(run=run),
    }
    return render_run_page(request, "generation/runs/detail.html", context)


@require_POST
@action_required(Action.GENERATE)
def run_launch(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(GenerationRun, pk=pk)
    launch_from_page(
        request, run=run, launch=services.launch_run, refused=services.GenerationError, label="Generation run"
    )
    return redirect("generation:detail", pk=run.pk)


@require_POST
@action_required(Action.GENERATE)
def run_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = services.cancel_run(run=get_object_or_404(GenerationRun, pk=pk))
    messages.success(request, f"Generation run {run.pk}: {run.get_status_display().lower()}.")
    return redirect("generation:detail", pk=run.pk)


@require_POST
@action_required(Action.GENERATE)
def run_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    count = services.retry_failed(run=get_object_or_404(GenerationRun, pk=pk))
    messages.success(request, f"{count} conversation{'s' if count != 1 else ''} queued again.")
    return redirect("generation:detail", pk=pk)
