"""The two sides of a generated conversation: the patient persona built from a case, and the provider requests of
the patient simulator and of the model under test at each turn.

The persona depends on the case and the patient seed only, never on the model or the condition: every
conversation of a case meets the same patient. The condition changes exactly one thing in the model's requests:
``no_image`` withholds the images, ``no_ehr`` withholds the record; ``full`` sends both.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from annotation.profile_text import format_profile
from engine.providers import ImagePart, Message, ProviderRequest
from generation import estimate, prompts

END_MARKER = "[END]"
OPENING_CUE = "(The conversation starts now. You speak first: tell the assistant what is worrying you.)"
SENDS_IMAGE = {"full": True, "no_image": False, "no_ehr": True}
SENDS_EHR = {"full": True, "no_image": True, "no_ehr": False}
STYLES = (
    "worried and talkative; everyday words, and you come back to what frightens you",
    "brief and matter-of-fact; you answer what you are asked and little more",
    "polite and a little hesitant; you apologise before asking questions",
    "direct; you want to know plainly how serious it is and what to do",
)
PATIENT, MODEL = "patient", "model"


def patient_seed(*, run_seed: int, case_key: str) -> int:
    """The patient simulator's seed for a case: the same for every model and condition of the run."""
    return int(hashlib.sha256(f"{run_seed}:{case_key}".encode()).hexdigest()[:12], 16)


def split_end(text: str) -> tuple[str, bool]:
    """A reply without the end marker, and whether the speaker ended the conversation."""
    ended = END_MARKER in text
    return text.replace(END_MARKER, "").strip(), ended


def _listed(values, *, none: str) -> str:
    names = [value.get("name") or str(value) if isinstance(value, dict) else str(value) for value in values or []]
    names = [name for name in names if name and name.lower() != "no known allergies"]
    return "; ".join(names) if names else none


@dataclass(frozen=True)
class Persona:
    """Who the simulated patient is. ``facts`` is what the simulated provider reads to play the part."""

    case: str
    seed: int
    who: str
    style: str
    complaint: str
    image: str
    sees_image: bool
    conditions: str
    medications: str
    allergies: str
    diagnosis: str
    facts: dict = field(default_factory=dict)

    def context(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "facts"}


def build_persona(*, case, summary: dict | None, images: list, seed: int, sees_image: bool) -> Persona:
    """The patient of ``case``: profile ``summary`` (bundles.profiles), ``images`` (Image rows), ``seed``."""
    summary = summary or {}
    rng = random.Random(seed)
    age, sex = summary.get("age"), summary.get("sex") or ""
    who = f"You are {age} years old" if age is not None else "You are an adult"
    who += f", {sex}." if sex else "."
    first = images[0] if images else None
    label = (first.caption.split(":")[0].strip() if first and first.caption else "") or (
        first.modality if first else ""
    )
    image = f"a {first.modality or 'medical'} image ({label})." if first else "no image."
    complaint = (case.extra or {}).get("presenting_complaint") or (
        f"{case.title} — that is how your notes put it; you would say it in your own words."
    )
    style = STYLES[rng.randrange(len(STYLES))]
    persona = Persona(
        case=case.key,
        seed=seed,
        who=who,
        style=style,
        complaint=complaint,
        image=image,
        sees_image=sees_image,
        conditions=_listed(summary.get("conditions"), none="none"),
        medications=_listed(summary.get("medications"), none="none"),
        allergies=_listed(summary.get("allergies"), none="no known allergies"),
        diagnosis=case.diagnosis or "not recorded",
    )
    facts = {
        "age": age,
        "sex": sex,
        "title": case.title,
        "specialty": case.specialty,
        "modality": first.modality if first else "",
        "image_label": label,
        "conditions": persona.conditions,
        "medications": persona.medications,
        "allergies": persona.allergies,
        "style": STYLES.index(style),
    }
    return Persona(**{**persona.context(), "facts": facts})


@dataclass(frozen=True)
class Caller:
    """A provider, model id and parameters (a patient simulator or a model endpoint)."""

    provider: str
    model_id: str
    parameters: dict


def _messages(turns: list[tuple[str, str]], *, speaker: str, first: Message | None) -> tuple[Message, ...]:
    """The conversation as ``speaker`` sees it: its own turns are ``assistant``, the other side's ``user``."""
    messages = [first] if first else []
    for role, text in turns:
        messages.append(Message(role="assistant" if role == speaker else "user", text=text))
    return tuple(messages)


def patient_request(
    *,
    caller: Caller,
    prompt: dict,
    persona: Persona,
    images: tuple[ImagePart, ...],
    turns: list[tuple[str, str]],
) -> ProviderRequest:
    """The patient simulator's next message: persona as system text, the opening cue (with the images it may see)
    first, then the conversation with the model's turns as ``user``."""
    system = prompts.render(prompt, persona=persona.context(), end_marker=END_MARKER)
    cue = Message(role="user", text=OPENING_CUE, images=images if persona.sees_image else ())
    hints = (
        {"role": "patient", "seed": persona.seed, "persona": persona.facts} if caller.provider == "simulated" else {}
    )
    return ProviderRequest(
        model=caller.model_id,
        system=system,
        messages=_messages(turns, speaker=PATIENT, first=cue),
        parameters=caller.parameters,
        hints=hints,
    )


def model_request(
    *,
    caller: Caller,
    prompt: dict,
    condition: str,
    case,
    summary: dict | None,
    images: tuple[ImagePart, ...],
    turns: list[tuple[str, str]],
) -> ProviderRequest:
    """The model under test's next reply. Images ride on the patient's first message unless the condition is
    ``no_image``; the record is in the system text unless it is ``no_ehr``."""
    sends_image, sends_ehr = SENDS_IMAGE[condition], SENDS_EHR[condition]
    profile_text = format_profile(summary) if sends_ehr and summary else ""
    system = prompts.render(prompt, profile_text=profile_text, end_marker=END_MARKER)
    messages = list(_messages(turns, speaker=MODEL, first=None))
    if sends_image and images:
        messages[0] = Message(role="user", text=messages[0].text, images=images)
    hints = {}
    if caller.provider == "simulated":  # what the request carries, in the form the simulated provider reads
        hints = {"role": "model_under_test", "model": caller.model_id, "specialty": case.specialty}
        if sends_image and images:
            hints["image_findings"] = {"diagnosis": case.diagnosis, "title": case.title}
        if profile_text:
            hints["ehr"] = summary
    return ProviderRequest(
        model=caller.model_id, system=system, messages=tuple(messages), parameters=caller.parameters, hints=hints
    )


def measure_sides(
    *,
    patient_caller: Caller,
    model_caller: Caller,
    prompts: dict,
    case,
    summary: dict | None,
    images: list,
    condition: str,
    patient_sees_image: bool,
) -> tuple[estimate.Side, estimate.Side]:
    """The patient and model sides of one conversation for the estimate, measured from the prompts it will send."""
    persona = build_persona(case=case, summary=summary, images=images, seed=0, sees_image=patient_sees_image)
    patient = patient_request(caller=patient_caller, prompt=prompts["patient"], persona=persona, images=(), turns=[])
    model = model_request(
        caller=model_caller,
        prompt=prompts["model"],
        condition=condition,
        case=case,
        summary=summary,
        images=(),
        turns=[(PATIENT, "")],
    )
    patient_images = len(images) if patient_sees_image else 0
    model_images = len(images) if SENDS_IMAGE[condition] else 0
    max_tokens = int(model_caller.parameters.get("max_tokens", estimate.MODEL_TURN_TOKENS))
    return (
        estimate.Side(
            fixed_tokens=estimate.text_tokens(patient.system + OPENING_CUE) + patient_images * estimate.IMAGE_TOKENS,
            reply_tokens=estimate.PATIENT_TURN_TOKENS,
        ),
        estimate.Side(
            fixed_tokens=estimate.text_tokens(model.system) + model_images * estimate.IMAGE_TOKENS,
            reply_tokens=min(max_tokens, estimate.MODEL_TURN_TOKENS),
        ),
    )
