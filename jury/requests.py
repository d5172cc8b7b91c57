"""Building a judge's request for one conversation, dimension and sample: the rendered prompt, the images the
condition allows, and the token estimate; and the correction sent when a reply breaks the scoring contract."""

from __future__ import annotations

import mimetypes

from annotation.models import Conversation, Rubric
from engine.providers import ImagePart, Message, ProviderRequest
from jury import prompts
from jury.models import Judge, JudgePrompt, WorkItem

IMAGE_TOKENS = 1600  # estimate per image (a ~1.2 megapixel image on Anthropic/OpenAI)
REASK = (
    "Your reply could not be used: {error}. Reply again with only the JSON object "
    '{{"score": <an integer from 1 to 5>, "rationale": "<two or three sentences>"}} and nothing else.'
)


class RequestBuilder:
    """Judge requests for work items, with the rubric, images and templates cached for the life of a run."""

    def __init__(self):
        rubric = Rubric.objects.filter(is_default=True).prefetch_related("dimensions").first()
        self.dimensions = {d.key: d for d in rubric.dimensions.all()} if rubric else {}
        self._images: dict[int, ImagePart] = {}
        self._judges: dict[int, Judge] = {}
        self._prompts: dict[int, JudgePrompt] = {}
        self._conversations: dict[int, Conversation] = {}
        # Judges of a run share prompts: one render per conversation, prompt and image count serves them all.
        self._texts: dict[tuple, str] = {}

    def attach(self, items: list[WorkItem]) -> None:
        """Give items their judge, prompt and conversation (turns, profile, images) from per-run caches."""
        for model, store, attribute in ((Judge, self._judges, "judge"), (JudgePrompt, self._prompts, "prompt")):
            missing = {getattr(item, f"{attribute}_id") for item in items} - store.keys()
            if missing:
                store.update(model.objects.in_bulk(missing))
        missing = {item.conversation_id for item in items} - self._conversations.keys()
        if missing:
            if len(self._conversations) > 2000:
                self._conversations.clear()
            self._conversations.update(
                Conversation.objects.select_related("case__profile")
                .defer("case__profile__raw")
                .prefetch_related("turns", "case__images")
                .in_bulk(missing)
            )
        for item in items:
            item.judge = self._judges[item.judge_id]
            item.prompt = self._prompts[item.prompt_id]
            item.conversation = self._conversations[item.conversation_id]

    def image(self, image) -> ImagePart:
        if image.pk not in self._images:
            with image.derivative.open("rb") as handle:
                data = handle.read()
            media_type = mimetypes.guess_type(image.derivative.name)[0] or "image/png"
            self._images[image.pk] = ImagePart.of(data=data, media_type=media_type)
        return self._images[image.pk]

    def build(self, *, conversation: Conversation, judge: Judge, prompt: JudgePrompt, dimension: str, sample: int):
        if not prompt.template:
            raise ValueError(f"prompt {prompt.reference} has no template (imported from a bundle): sync the prompts")
        rubric_dimension = self.dimensions.get(dimension)
        if rubric_dimension is None:
            raise ValueError(f"dimension {dimension!r} is not in the default rubric")
        case = conversation.case
        images = [self.image(image) for image in case.images.all()] if judge.accepts_images else []
        text_key = (conversation.pk, prompt.pk, dimension, len(images))
        text = self._texts.get(text_key)
        if text is None:
            if len(self._texts) > 4096:
                self._texts.clear()
            profile = getattr(case, "profile", None)
            text = self._texts[text_key] = prompts.render(
                prompt.template,
                dimension={
                    "key": dimension,
                    "name": rubric_dimension.name,
                    "description": rubric_dimension.description,
                },
                anchors=rubric_dimension.anchors,
                profile=profile.summary if profile else None,
                turns=conversation.turns.all(),
                condition=conversation.condition,
                image_count=len(images),
            )
        parameters = dict(judge.parameters)
        hints = {}
        if judge.provider == "simulated":
            hints = {
                "conversation": conversation.key,
                "dimension": dimension,
                "prompt": prompt.reference,
                "sample": sample,
                "quality": (conversation.extra.get("demo_quality") or {}).get(dimension),
            }
        return ProviderRequest(
            model=judge.model_id or judge.key,
            system=prompts.SYSTEM,
            messages=(Message(role="user", text=text, images=tuple(images)),),
            parameters=parameters,
            hints=hints,
        )


def estimate_tokens(request: ProviderRequest, judge: Judge) -> tuple[int, int]:
    """Rough input and output tokens of one call: 4 characters a token, a fixed count per image."""
    text = len(request.system) + sum(len(m.text) for m in request.messages)
    images = sum(len(m.images) for m in request.messages)
    output = min(int(judge.parameters.get("max_tokens", 1024)), 300)
    return text // 4 + images * IMAGE_TOKENS, output


def reask(request: ProviderRequest, *, reply_text: str, error: str) -> ProviderRequest:
    messages = (
        *request.messages,
        Message(role="assistant", text=reply_text or "(empty)"),
        Message(role="user", text=REASK.format(error=error)),
    )
    return ProviderRequest(
        model=request.model,
        system=request.system,
        messages=messages,
        parameters=request.parameters,
        hints=request.hints,
    )


# ------------------------------------------------------------------------------------------------ the loop
