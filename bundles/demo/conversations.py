"""The simulated conversations: each model's hidden quality on each case and condition, and the text that
follows from it, put together from the templates in data/conversation.toml and the case's own words.

Every conversation keeps its hidden ``demo_quality`` (the score the template aimed at, per dimension) so that the
simulated jury and the tests can check that the text and the scores agree.
"""

from __future__ import annotations

import dataclasses
import random
import uuid

from bundles.demo.loader import DATA, IMAGES, TEXT
from bundles.demo.specs import CASE_TEXT_FIELDS, DIMENSIONS, CaseSpec, ModelSpec

_ID_NAMESPACE = uuid.UUID("6f1b7c1e-8d55-5a3e-9a43-2b6c1d0e7f10")
# Where each dimension's weakness shows, as a 1-based turn number (docs/bundle-format.md): the first assistant
# turn carries the interpretation and its hedging, the second the advice on care.
FLAG_TURNS = {"accuracy": 2, "uncertainty": 2, "safety": 4}


def rng(seed: int, *parts: object) -> random.Random:
    """An independent, reproducible stream for one purpose (string seeds hash with SHA-512, not hash())."""
    return random.Random("|".join([str(seed), *(str(part) for part in parts)]))


def stable_uuid(seed: int, *parts: object) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join([str(seed), *(str(part) for part in parts)])))


def clip(value: float, low: float = 1.0, high: float = 5.0) -> float:
    return min(high, max(low, value))


def case_id(number: int) -> str:
    return f"case-{number:04d}"


def conversation_id(number: int, model: str, condition: str) -> str:
    return f"conv-{number:04d}-{model}-{condition}"


def _join(items: list[str] | tuple[str, ...], last: str = "or") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


def _tier(value: float) -> str:
    if value < 2.5:
        return "low"
    if value < 3.6:
        return "mid"
    return "high"


def quality(seed: int, number: int, spec: CaseSpec, model: ModelSpec, condition: str) -> dict[str, float]:
    """The score the conversation's text aims at, per dimension: the model's mean, shifted by the condition and
    the kind of case, plus seeded case, model-on-case and conversation noise."""
    case_effect = rng(seed, "case-effect", number)
    model_case = rng(seed, "model-case", model.id, number)
    noise = rng(seed, "noise", number, model.id, condition)
    condition_shift = getattr(DATA.models.condition_shift, condition)
    case_shift = DATA.models.case_shift
    result = {}
    for index, dimension in enumerate(DIMENSIONS):
        value = model.quality[index] + condition_shift[index]
        if spec.malignant:
            value += case_shift.malignant[index]
        if spec.rare:
            value += case_shift.rare[index]
        value += case_effect.gauss(0, 0.2) + model_case.gauss(0, 0.25) + noise.gauss(0, 0.3)
        result[dimension] = round(clip(value), 2)
    return result


def _noun(spec: CaseSpec) -> str:
    return TEXT.images_noun if len(spec.images) > 1 else IMAGES[spec.images[0].image].noun


def _limit(spec: CaseSpec, condition: str, possessive: str) -> str:
    """What the assistant is going on, as the reading templates' {limit}."""
    limits = TEXT.first.limit
    if condition == "no_image":
        return limits.no_image
    limit = limits.images if len(spec.images) > 1 else limits.image
    if condition == "no_ehr":
        limit += limits.no_ehr.format(possessive=possessive)
    return limit


def _context(spec: CaseSpec, condition: str) -> dict[str, str]:
    """Every name a conversation template may use (specs.PLACEHOLDERS), for this case and condition."""
    words = dataclasses.asdict(TEXT.pronouns[spec.patient])
    record = TEXT.next_steps.record
    drugs = [drug[:1].lower() + drug[1:] for drug, _product, _dosage in spec.medications]
    substances = [f"{substance.lower()} ({reaction.lower()})" for substance, reaction in spec.allergies]
    alternative, other = spec.differential
    context = {name: getattr(spec, name) for name in CASE_TEXT_FIELDS} | words
    context["opening"] = spec.opening.replace("{age}", str(spec.age))  # the age the profile gives, never retyped
    context |= {
        "noun": _noun(spec),
        "limit": _limit(spec, condition, words["possessive"]),
        "alternative": alternative,
        "other": other,
        "red_flags": _join(spec.red_flags),
        "first_flag": spec.red_flags[0],
        "second_flag": spec.red_flags[1],
        "escalate_lower": spec.escalate[:1].lower() + spec.escalate[1:],
        "drugs": _join(drugs, "and"),
        "substances": _join(substances, "and"),
    }
    context["medicines"] = (record.medicines if drugs else record.no_medicines).format(**context)
    context["allergies"] = (record.allergies if substances else record.no_allergies).format(**context)
    return context


def _first_assistant(spec: CaseSpec, condition: str, tiers: dict, context: dict, opener: str) -> str:
    """Findings and interpretation (accuracy), hedged or not (uncertainty), with or without the record."""
    first = TEXT.first
    accuracy, uncertainty = tiers["accuracy"], tiers["uncertainty"]
    findings = first.findings.no_image if condition == "no_image" else first.findings.image
    reading = getattr(first.readings, accuracy)[uncertainty]
    parts = [opener, findings[accuracy].format(**context), reading.format(**context)]
    if condition == "no_ehr":
        if uncertainty == "high":
            parts.append(first.no_ehr.format(**context))
    elif accuracy != "low":
        parts.append(spec.ehr_note)
    return " ".join(parts)


def _safety_assistant(tiers: dict, context: dict) -> str:
    """Level and urgency of care and red flags (safety); a closing hedge or boast (uncertainty)."""
    text = TEXT.safety.advice[tiers["safety"]].format(**context)
    closing = TEXT.safety.closing[tiers["uncertainty"]].format(**context)
    return f"{text} {closing}" if closing else text


def _next_steps_assistant(condition: str, tiers: dict, context: dict) -> str:
    """Next steps (accuracy), and the record's medicines and allergies when the assistant has it."""
    turn = TEXT.next_steps
    parts = [turn.steps[tiers["accuracy"]].format(**context)]
    if tiers["uncertainty"] == "high":
        parts.append(turn.hedge.format(**context))
    if condition == "no_ehr":
        parts.append(turn.no_ehr.format(**context))
    elif tiers["accuracy"] != "low":
        parts.append(_sentence(turn.record.sentence.format(**context)))
    return " ".join(parts)


def _meanwhile_assistant(tiers: dict, context: dict) -> str:
    """Safety-netting until the patient is seen (safety)."""
    return TEXT.meanwhile[tiers["safety"]].format(**context)


def _opening(condition: str, context: dict) -> str:
    return (TEXT.opening.no_image if condition == "no_image" else TEXT.opening.image).format(**context)


def build_conversation(seed: int, number: int, spec: CaseSpec, model: ModelSpec, condition: str) -> dict:
    aimed = quality(seed, number, spec, model, condition)
    tiers = {dimension: _tier(value) for dimension, value in aimed.items()}
    draw = rng(seed, "text", number, model.id, condition)
    context = _context(spec, condition)
    questions = TEXT.questions
    pairs = draw.choice((2, 3, 3, 4))
    first = _first_assistant(spec, condition, tiers, context, draw.choice(TEXT.style[model.family]))
    turns = [
        {"role": "patient", "content": _opening(condition, context)},
        {"role": "assistant", "content": first},
        {"role": "patient", "content": draw.choice(questions.safety).format(**context)},
        {"role": "assistant", "content": _safety_assistant(tiers, context)},
    ]
    if pairs >= 3:
        turns.append({"role": "patient", "content": draw.choice(questions.next_steps).format(**context)})
        turns.append({"role": "assistant", "content": _next_steps_assistant(condition, tiers, context)})
    if pairs >= 4:
        turns.append({"role": "patient", "content": draw.choice(questions.meanwhile).format(**context)})
        turns.append({"role": "assistant", "content": _meanwhile_assistant(tiers, context)})
    return {
        "id": conversation_id(number, model.id, condition),
        "case": case_id(number),
        "model": model.id,
        "condition": condition,
        "turns": turns,
        "synthetic": True,
        "demo_quality": aimed,
    }
