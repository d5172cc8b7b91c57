"""Inspect (``inspect_ai``) evaluation logs as chat lines and judgements (the optional ``inspect`` extra).

A ``.eval`` or ``.json`` log is read with ``inspect_ai.log.read_eval_log`` (attachments resolved). Each sample
(each epoch) becomes one chat line of the log's model (``eval.model``): its messages with their text and image
content, its metadata (where the mapping finds the case, condition, …), and the id
``inspect:<eval id>:<sample id>:<epoch>``, so importing the log again changes nothing. A sample without a case in
its metadata gets the case ``inspect:<task>:<sample id>``.

Each score whose scorer names a rubric dimension (the scorer's name, or a key of a dict value) becomes a judgement
with the scorer as the judge ``inspect:<scorer>`` and the prompt ``inspect-<task>@<task version>``, its
explanation as the rationale. An imported judgement is told apart from the app's own jury runs by having no run,
its bundle import, and ``extra["inspect"]`` (log, eval id, task, scorer, sample, epoch). Problems name the log and
the sample's position in it as the line: ``task.eval:2: scores.rubric.value.safety: 7 is outside the scale 1–5``.
"""

from dataclasses import dataclass, field
from pathlib import Path

from bundles.problems import ProblemLog, shown

try:
    from inspect_ai.log import read_eval_log
except ImportError:  # the optional extra is not installed
    read_eval_log = None

INSTALL = "reading Inspect logs needs the 'inspect-ai' package: pip install '.[inspect]'"
KINDS = {"text", "image", "reasoning"}


@dataclass
class Scores:
    """The judgements read from a log, each with the sample (file, line) and the score's field path."""

    records: list[tuple[str, int, dict, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def inspect_rows(*, path: Path, log: ProblemLog, dimensions: list[str], scores: Scores):
    """Yield ``(file, line, chat line)`` per sample, collecting its judgements in ``scores``."""
    if read_eval_log is None:
        log.add(path.name, None, "", INSTALL)
        return
    try:
        eval_log = read_eval_log(str(path), resolve_attachments=True)
    except Exception as error:  # noqa: BLE001 - Inspect raises ValueError, pydantic and zip errors alike
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        log.add(path.name, None, "", f"cannot be read as an Inspect log: {text[:300]}")
        return
    if not eval_log.samples:
        log.add(path.name, None, "samples", f"the log holds no samples (its status is {eval_log.status!r})")
        return
    spec = eval_log.eval
    provider = spec.model.split("/", 1)[0] if "/" in spec.model else ""
    prompt = f"inspect-{spec.task}@{spec.task_version}"
    skipped = 0
    for line, sample in enumerate(eval_log.samples, start=1):
        if sample.error is not None:
            skipped += 1
            continue
        conversation = f"inspect:{spec.eval_id}:{sample.id}:{sample.epoch}"
        metadata = dict(sample.metadata or {})
        metadata.setdefault("case", f"inspect:{spec.task}:{sample.id}")
        metadata["inspect"] = {"log": path.name, "eval_id": spec.eval_id, "task": spec.task,
                               "sample": sample.id, "epoch": sample.epoch}  # fmt: skip
        row = {"id": conversation, "model": spec.model, "model_name": spec.model, "provider": provider,
               "messages": [_message(m) for m in sample.messages], "metadata": metadata}  # fmt: skip
        yield path.name, line, row
        for scorer, score in (sample.scores or {}).items():
            values = score.value if isinstance(score.value, dict) else {scorer: score.value}
            where = f"scores.{scorer}.value"
            named = [d for d in values if d in dimensions]
            if not named:
                scores.notes.append(f"{path.name}:{line}: scores.{scorer}: names no rubric dimension; not imported")
            for dimension in named:
                record = {
                    "conversation": conversation,
                    "judge": f"inspect:{scorer}",
                    "prompt": prompt,
                    "dimension": dimension,
                    "score": _whole(values[dimension]),
                    "rationale": score.explanation or "",
                    "inspect": {
                        "log": path.name,
                        "eval_id": spec.eval_id,
                        "task": spec.task,
                        "scorer": scorer,
                        "sample": sample.id,
                        "epoch": sample.epoch,
                    },  # fmt: skip
                }
                field_path = f"{where}.{dimension}" if isinstance(score.value, dict) else where
                scores.records.append((path.name, line, record, field_path))
    if skipped:
        scores.notes.append(f"{path.name}: {skipped} sample(s) that ended in an error were not imported")


def _whole(value):
    """An integral float (Inspect's 4.0) as the whole number it is; anything else as it is, for the parser to judge."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _message(message) -> dict:
    """One Inspect chat message in the OpenAI shape the chat converter reads (images as ``image_url`` parts)."""
    content = message.content
    out = {"role": message.role}
    if isinstance(content, str):
        return out | {"content": content}
    parts, reasoning = [], []
    for part in content:
        if part.type == "text":
            parts.append({"type": "text", "text": part.text})
        elif part.type == "image":
            parts.append({"type": "image_url", "image_url": {"url": part.image}})
        elif part.type == "reasoning":
            reasoning.append(part.reasoning)
        else:
            parts.append({"type": part.type, "unsupported": shown(part.type)})  # the converter reports it
    return out | {"content": parts} | ({"reasoning": reasoning} if reasoning else {})
