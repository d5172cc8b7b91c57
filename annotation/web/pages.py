from django.conf import settings
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from annotation import selectors
from annotation.models import Case, Conversation
from annotation.roles import Action, Role, action_required, may, role_required, roles_of
from imcbench_site.http import HtmxHttpRequest


def _try_a_write() -> None:
    """Rewrite one row as it is, then roll back: fails when the database is read-only."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE django_migrations SET app = app WHERE id = (SELECT MIN(id) FROM django_migrations)")
        transaction.set_rollback(True)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker state, for load balancers and operators. 503 when the database is down or read-only."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as error:  # noqa: BLE001 — any failure is reported, not raised
        checks["database"] = {"ok": False, "error": str(error)[:200]}
    else:
        try:
            _try_a_write()
        except Exception as error:  # noqa: BLE001
            checks["database"] = {
                "ok": False,
                "vendor": connection.vendor,
                "writable": False,
                "error": str(error)[:200],
            }
    if not settings.CELERY_BROKER_URL:
        checks["broker"] = {"ok": True, "mode": "eager (tasks run in-process)"}
    else:
        broker = Connection(settings.CELERY_BROKER_URL, connect_timeout=2)
        try:
            broker.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = {"ok": True, "mode": "broker", "transport": broker.transport.driver_name}
        except Exception as error:  # noqa: BLE001
            checks["broker"] = {"ok": False, "mode": "broker", "error": str(error)[:200]}
        finally:
            broker.release()
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


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
