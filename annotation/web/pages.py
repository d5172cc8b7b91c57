from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation import selectors
from annotation.models import Case, Conversation
from annotation.roles import Action, Role, action_required, may, role_required, roles_of
from imcbench_site.http import HtmxHttpRequest


@require_GET
@role_required(Role.CLINICIAN, Role.ADJUDICATOR, Role.RESEARCHER, Role.ADMIN)
def home(request: HttpRequest) -> HttpResponse:
    roles = roles_of(request.user)
    context = {
        "roles": sorted(roles),
        "case_count": Case.objects.count(),
        "conversation_count": Conversation.objects.count(),
        "can_browse": may(request.user, Action.BROWSE_CASES),
        "queue": selectors.clinician_queue(clinician=request.user) if Role.CLINICIAN in roles else [],
    }
    return render(request, "annotation/home.html", context)


@require_GET
@action_required(Action.BROWSE_CASES)
def case_list(request: HtmxHttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    template_name = "annotation/case_list.html"
    if request.htmx:
        template_name += "#case-table"
    return render(request, template_name, {"cases": selectors.case_list(search=search), "search": search})


@require_GET
@action_required(Action.BROWSE_CASES)
def case_detail(request: HttpRequest, key: str) -> HttpResponse:
    try:
        case = selectors.case_with_everything(key=key)
    except Case.DoesNotExist:
        raise Http404(f"No case {key!r}") from None
    return render(request, "annotation/case_detail.html", {"case": case})


@require_GET
@action_required(Action.BROWSE_CASES)
def conversation_detail(request: HttpRequest, key: str) -> HttpResponse:
    try:
        conversation = selectors.conversation_with_turns(key=key)
    except Conversation.DoesNotExist:
        raise Http404(f"No conversation {key!r}") from None
    return render(request, "annotation/conversation_detail.html", {"conversation": conversation})
