"""Driving runs in tests: start a draft run, kill a worker at a chosen moment, script a provider's replies."""

from generation import runner
from generation.models import GenerationCall, GenerationRun


def start(run: GenerationRun) -> GenerationRun:
    GenerationRun.objects.filter(pk=run.pk).update(status=GenerationRun.Status.RUNNING)
    run.refresh_from_db()
    return run


class Crash(BaseException):
    """Stands for the worker being killed: nothing after it runs."""


def kill_after_stored_replies(monkeypatch, count: int):
    """Kill the worker right after the ``count``-th paid reply is stored; returns how to undo it."""
    original = runner.Runner._take

    def take_then_maybe_die(self, talk, reply, *, cached, outcome):
        taken = original(self, talk, reply, cached=cached, outcome=outcome)
        if GenerationCall.objects.filter(cached=False).count() == count:
            raise Crash
        return taken

    monkeypatch.setattr(runner.Runner, "_take", take_then_maybe_die)
    return lambda: monkeypatch.setattr(runner.Runner, "_take", original)


def scripted(*, patient_ends: bool = True, model_ends_on: str = ""):
    """A responder playing a scripted patient (to the patient prompt) and a numbered assistant (to the rest)."""

    def respond(payload: dict) -> str:
        said = own_turns(payload)
        if "role-playing a patient" in system_text(payload):
            if not patient_ends:
                return f"Question number {said + 1}: what else should I know?"
            return PATIENT_LINES[min(said, len(PATIENT_LINES) - 1)]
        last = payload["messages"][-1]["content"]
        last = last if isinstance(last, str) else " ".join(p.get("text", "") for p in last if p.get("type") == "text")
        if model_ends_on and model_ends_on in last:
            return "Take care, and see your doctor this week. [END]"
        return f"Assistant reply {said + 1}: please tell me about your medicines and allergies."

    return respond


PATIENT_LINES = (
    "I have this spot on my arm and it has changed colour. What is it?",
    "I take amlodipine for my blood pressure.",
    "Thank you, that's all I needed. Goodbye. [END]",
)


def system_text(payload: dict) -> str:
    if "system" in payload:  # Anthropic Messages
        return payload["system"] if isinstance(payload["system"], str) else str(payload["system"])
    first = payload["messages"][0]
    return first["content"] if first["role"] == "system" else ""


def own_turns(payload: dict) -> int:
    return sum(1 for message in payload["messages"] if message["role"] == "assistant")
