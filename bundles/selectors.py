"""Reading the state of bundle uploads queued from the admin (written by ``bundles.uploads``)."""

from dataclasses import dataclass, field
from datetime import datetime

from annotation.models import AuditEvent
from bundles.uploads import FINISHED, QUEUED, RUNNING


@dataclass(frozen=True)
class UploadState:
    token: str
    file: str
    state: str  # queued | running | imported | unchanged | rejected | failed
    queued_at: datetime
    format: str = "bundle"
    uploaded_by: int | None = None  # the user's id
    bundle: int | None = None  # the BundleImport made, once imported
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False
    error: str = ""

    @property
    def done(self) -> bool:
        return self.state not in ("queued", "running")


def upload_state(*, token: str) -> UploadState | None:
    events = {
        e.action: e for e in AuditEvent.objects.filter(details__upload=token, action__in=(QUEUED, RUNNING, FINISHED))
    }
    queued = events.get(QUEUED)
    if queued is None:
        return None
    finished = events.get(FINISHED)
    details = finished.details if finished else {}
    return UploadState(
        token=token,
        file=queued.details.get("file", queued.target),
        state=details.get("state") or ("running" if RUNNING in events else "queued"),
        queued_at=queued.at,
        format=queued.details.get("format", "bundle"),
        uploaded_by=queued.actor_id,
        bundle=details.get("bundle"),
        summary=details.get("summary", ""),
        notes=details.get("notes", []),
        problems=details.get("problems", []),
        truncated=details.get("truncated", False),
        error=details.get("error", ""),
    )


def recent_uploads(*, limit: int = 10) -> list[UploadState]:
    tokens = AuditEvent.objects.filter(action=QUEUED).order_by("-at").values_list("details__upload", flat=True)
    return [state for token in tokens[:limit] if (state := upload_state(token=token))]
