"""Reads: what pages and the API show."""

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import Case, Conversation, Turn


def case_with_everything(*, key: str) -> Case:
    """One case with its images, profile and conversations (model, turn count) in a fixed number of queries."""
    conversations = Conversation.objects.select_related("model").annotate(turn_count=Count("turns"))
    return (
        Case.objects.select_related("profile", "bundle")
        .prefetch_related("images", Prefetch("conversations", queryset=conversations))
        .get(key=key)
    )


def case_list(*, search: str = "") -> QuerySet[Case]:
    cases = Case.objects.annotate(conversation_count=Count("conversations")).prefetch_related("images")
    if search:
        cases = cases.filter(
            Q(key__icontains=search)
            | Q(title__icontains=search)
            | Q(specialty__icontains=search)
            | Q(diagnosis__icontains=search)
            | Q(modality__icontains=search)
        )
    return cases.order_by("key")


def conversation_with_turns(*, key: str) -> Conversation:
    return (
        Conversation.objects.select_related("case", "model", "case__profile")
        .prefetch_related(Prefetch("turns", queryset=Turn.objects.order_by("index")), "case__images")
        .get(key=key)
    )
