"""What every run's pages share: the live-progress partial and launching from a page with an optional budget."""

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from imcbench_site.http import HtmxHttpRequest


def render_run_page(request: HtmxHttpRequest, template_name: str, context: dict) -> HttpResponse:
    """A run's page; for htmx (the page polling its progress) only the page's ``run-progress`` partial."""
    if request.htmx:
        template_name += "#run-progress"
    return render(request, template_name, context)


def launch_from_page(request: HttpRequest, *, run, launch, refused: type[Exception], label: str) -> None:
    """Launch ``run`` with ``launch(run=, budget=)`` and the page's optional new budget; say how it went."""
    budget = request.POST.get("budget", "").strip()
    try:
        launch(run=run, budget=Decimal(budget) if budget else None)
        messages.success(request, f"{label} {run.pk} launched.")
    except InvalidOperation:
        messages.error(request, f"{budget!r} is not an amount.")
    except refused as error:
        messages.error(request, str(error))
