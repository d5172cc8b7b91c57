from django.apps import AppConfig
from django.db.models.signals import m2m_changed, pre_delete


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from annotation import queue  # models can be imported only once the app registry is ready
        from annotation.models import Campaign, Conversation  # likewise

        m2m_changed.connect(
            queue.members_changed, sender=Campaign.conversations.through, dispatch_uid="annotation-queue-members"
        )
        pre_delete.connect(queue.conversation_deleted, sender=Conversation, dispatch_uid="annotation-queue-deleted")
