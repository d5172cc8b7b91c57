"""Pure arithmetic of what generating conversations costs: calls, tokens and money (no Django imports).

A conversation of ``K`` exchanges makes ``K`` patient-simulator calls and ``K`` model-under-test calls, each
carrying the whole conversation so far, so input tokens grow quadratically with ``K``. The estimates are upper
bounds: every conversation is assumed to run to ``max_turns`` (either side may end it sooner).

Token counts are estimates, not tokenizer output: about 4 characters of English text a token (OpenAI, "What are
tokens and how to count them", help.openai.com), and ``IMAGE_TOKENS`` an image, Anthropic's
``width × height / 750`` for an image of about 1.15 megapixels, the size providers scale larger images down to
(Anthropic, "Vision", docs.anthropic.com/en/docs/build-with-claude/vision).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

CHARACTERS_PER_TOKEN = 4
IMAGE_TOKENS = 1600
MILLION = Decimal(1_000_000)


def money(input_tokens: int, output_tokens: int, input_price_per_mtok, output_price_per_mtok) -> Decimal:
    """Money for ``input_tokens`` and ``output_tokens`` at prices per million tokens, to a millionth."""
    cost = (
        Decimal(input_tokens) * Decimal(input_price_per_mtok) + Decimal(output_tokens) * Decimal(output_price_per_mtok)
    ) / MILLION
    return cost.quantize(Decimal("0.000001"))


def text_tokens(text: str) -> int:
    return len(text) // CHARACTERS_PER_TOKEN


@dataclass(frozen=True)
class Side:
    """One side of the conversation as its calls see it.

    ``fixed_tokens``: what every call of this side carries besides the conversation (system prompt, the opening cue,
    images); ``reply_tokens``: the length of one of its turns.
    """

    fixed_tokens: int
    reply_tokens: int


@dataclass(frozen=True)
class CallTotals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: CallTotals) -> CallTotals:
        return CallTotals(
            self.calls + other.calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )

    def times(self, count: int) -> CallTotals:
        return CallTotals(self.calls * count, self.input_tokens * count, self.output_tokens * count)


def conversation_calls(*, max_turns: int, patient: Side, model: Side) -> tuple[CallTotals, CallTotals, CallTotals]:
    """``(patient calls after the opening, the opening call, model calls)`` of one conversation of ``max_turns``.

    Exchange ``k`` (1-based) sends the patient simulator its fixed part and the ``k − 1`` earlier exchanges, and the
    model its fixed part, the ``k − 1`` earlier exchanges and the patient's new message; summed over ``k`` the earlier
    exchanges count ``K(K − 1)/2`` times. The opening (``k = 1``) is returned apart because it is the same request
    for every model and condition of a case, so a run pays for it once a case.
    """
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, not {max_turns}")
    exchange = patient.reply_tokens + model.reply_tokens
    earlier = max_turns * (max_turns - 1) // 2
    opening = CallTotals(1, patient.fixed_tokens, patient.reply_tokens)
    later_patient = CallTotals(
        max_turns - 1,
        (max_turns - 1) * patient.fixed_tokens + earlier * exchange,
        (max_turns - 1) * patient.reply_tokens,
    )
    model_calls = CallTotals(
        max_turns,
        max_turns * (model.fixed_tokens + patient.reply_tokens) + earlier * exchange,
        max_turns * model.reply_tokens,
    )
    return later_patient, opening, model_calls


# Assumed lengths of one turn when estimating before any reply exists: a patient's message of two to four
# sentences, and an assistant's reply of a few paragraphs, capped by the endpoint's ``max_tokens``.
PATIENT_TURN_TOKENS = 80
MODEL_TURN_TOKENS = 350


@dataclass(frozen=True)
class Planned:
    """One conversation to estimate: its case (the opening is shared per case), model, and both sides."""

    case: str
    model: str
    patient: Side
    model_side: Side


def estimate_conversations(planned, *, max_turns: int) -> tuple[CallTotals, dict[str, CallTotals]]:
    """Patient-simulator totals (one opening a case) and model totals per model, for ``planned`` conversations."""
    patient = CallTotals()
    models: dict[str, CallTotals] = {}
    openings: set[str] = set()
    for conversation in planned:
        later, opening, model = conversation_calls(
            max_turns=max_turns, patient=conversation.patient, model=conversation.model_side
        )
        patient = patient + later
        if conversation.case not in openings:
            openings.add(conversation.case)
            patient = patient + opening
        models[conversation.model] = models.get(conversation.model, CallTotals()) + model
    return patient, models
