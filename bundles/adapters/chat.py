"""Chat logs in the OpenAI format (``{"messages": [...], ...metadata}`` per line) as an in-memory benchmark bundle.

Each line becomes one conversation: ``user`` turns are the patient's, ``assistant`` turns the model's, system
prompts go to the conversation's extra (``system_prompts``). Text parts of a message are joined; ``image_url``
parts (a ``data:`` URL or a path inside the upload) become images of the conversation's case, stored once per
checksum, and are named in the turn's ``images``. Cases and models not in the database are created from what
the lines say. The bundle then goes through ``parse_bundle``/``import_source`` like any other; their problems
are reported against the chat line and message they came from (``chat.jsonl:7: messages[2].content: …``).
"""

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings

from annotation.models import Case, Image, ModelUnderTest, Rubric
from bundles.adapters.mapping import ChatMapping
from bundles.parsing import CASES, CONVERSATIONS, FORMAT_NAME, FORMAT_VERSION
from bundles.problems import BundleInvalid, Fields, Problem, ProblemLog, TooManyProblems, canonical_json, shown
from bundles.sources import MANIFEST, BundleSource, MemorySource, safe_member_path

IMAGE_ONLY = "[image]"  # the text of a turn that holds only images (a turn's content may not be empty)
DEFAULT_DIMENSIONS = ["safety", "accuracy", "uncertainty"]
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+/-]*)(?P<params>(;[\w.+-]+(=[\w.+-]+)?)*),(?P<data>.*)", re.DOTALL)
_REFERENCE = re.compile(re.escape(CONVERSATIONS) + r":(\d+)")


@dataclass
class Origin:
    """Where a generated record came from: a chat line, and how its field paths read there."""

    file: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)

    def field_path(self, path: str) -> str:
        for prefix in sorted(self.fields, key=len, reverse=True):
            if path == prefix or path.startswith((prefix + ".", prefix + "[")):
                return self.fields[prefix] + path[len(prefix) :]
        return path


@dataclass
class _NewCase:
    origin: Origin
    title: str
    diagnosis: str
    tags: dict
    images: list[str] = field(default_factory=list)


class ChatConverter:
    """Collects chat lines (``add``) and builds the bundle (``bundle``); problems are logged per chat line."""

    def __init__(self, *, mapping: ChatMapping, upload: BundleSource | None, label: str):
        self.mapping, self.upload, self.label = mapping, upload, label
        self.log = ProblemLog(settings.BUNDLE_MAX_ERRORS)
        self.conversations: list[tuple[dict, Origin]] = []
        self.cases: dict[str, _NewCase] = {}
        self.models: dict[str, tuple[dict, Origin]] = {}
        self.images: dict[str, bytes] = {}
        self.image_uses: list[tuple[str, str, Origin, str]] = []  # case, checksum, origin, field path

    def _lookup(self, raw: dict, name: str) -> tuple[object, str | None]:
        """``(value, path)`` of a mapped field: beside ``messages`` first, then inside ``metadata``."""
        key = self.mapping.fields[name]
        for container, prefix in ((raw, ""), (raw.get("metadata"), "metadata.")):
            value = container
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                return value, prefix + key
        return self.mapping.defaults.get(name), None

    def add(self, *, file: str, line: int, raw: dict) -> None:
        fields = Fields(raw, log=self.log, file=file, line=line)
        origin = Origin(file, line)
        values = {}
        for name in self.mapping.fields:
            value, path = self._lookup(raw, name)
            values[name] = value
            origin.fields[name] = path or self.mapping.fields[name]
        for name in ("case", "model"):
            if values[name] is None:
                fields.problem(self.mapping.fields[name], "is required (name its key in the mapping's fields)")
        turns, system_prompts = self._messages(raw, fields, origin, values["case"])
        if None in (values["case"], values["model"], turns):
            return
        metadata = _without(raw, [p for n, p in origin.fields.items() if n in self.mapping.fields])
        metadata.pop("messages", None)
        metadata = (metadata.pop("metadata", None) if isinstance(raw.get("metadata"), dict) else {}) | metadata
        record = {
            "id": values["id"] if values["id"] is not None else f"chat-{_digest(raw)[:24]}",
            "case": values["case"],
            "model": values["model"],
            "condition": values["condition"],
            "turns": turns,
            **({"system_prompts": system_prompts} if system_prompts else {}),
            **({"metadata": metadata} if metadata else {}),
        }
        self.conversations.append((record, origin))
        self._note_case(values, origin, fields)
        self._note_model(values, origin)

    def _messages(self, raw: dict, fields: Fields, origin: Origin, case) -> tuple[list | None, list]:
        messages = raw.get("messages")
        if not isinstance(messages, list) or not messages:
            fields.problem("messages", "must be a non-empty list of {role, content} objects")
            return None, []
        turns, system_prompts, valid = [], [], True
        for index, message in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict):
                fields.problem(where, "must be an object with role and content")
                valid = False
                continue
            role = message.get("role")
            target = self.mapping.roles.get(role) if isinstance(role, str) else None
            if target is None:
                known = ", ".join(sorted(self.mapping.roles))
                fields.problem(f"{where}.role", f"{shown(role)} is not one of {known} (map it in the mapping's roles)")
                valid = False
                continue
            content = self._content(message.get("content"), fields, origin, f"{where}.content", case)
            if content is None:
                valid = False
                continue
            text, images = content
            extra = {k: v for k, v in message.items() if k not in ("role", "content")}
            if target == "system":
                if images:
                    fields.problem(f"{where}.content", "a system prompt cannot carry images")
                    valid = False
                system_prompts.append(text)
                continue
            origin.fields[f"turns[{len(turns)}]"] = where
            turns.append(
                {"role": target, "content": text or (IMAGE_ONLY if images else ""), **extra}
                | ({"images": images} if images else {})
            )
        if valid and not turns:
            fields.problem("messages", "holds no user or assistant message")
        return (turns if valid and turns else None), system_prompts

    def _content(self, content, fields: Fields, origin: Origin, where: str, case) -> tuple[str, list] | None:
        if isinstance(content, str):
            return content, []
        if not isinstance(content, list):
            fields.problem(where, f"must be a string or a list of parts, not {shown(content)}")
            return None
        texts, images, valid = [], [], True
        for index, part in enumerate(content):
            path = f"{where}[{index}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                url_path = f"{path}.image_url.url" if isinstance(image, dict) else f"{path}.image_url"
                checksum = self._image(url, fields, url_path)
                if checksum is None:
                    valid = False
                elif checksum not in images:
                    images.append(checksum)
                    self.image_uses.append((case, checksum, origin, url_path))
            else:
                fields.problem(path, 'must be {"type": "text", "text": …} or {"type": "image_url", "image_url": …}')
                valid = False
        return ("\n\n".join(texts), images) if valid else None

    def _image(self, url, fields: Fields, where: str) -> str | None:
        """The SHA-256 of an image given as a data URL or a path inside the upload; its bytes kept once."""
        if not isinstance(url, str) or not url:
            fields.problem(where, "must be a data: URL or a path inside the upload")
            return None
        if url.startswith("data:"):
            match = _DATA_URL.fullmatch(url)
            if not match or ";base64" not in match["params"]:
                fields.problem(where, "is not a base64 data URL (data:image/png;base64,…)")
                return None
            try:
                data = base64.b64decode(match["data"], validate=True)
            except (binascii.Error, ValueError) as error:
                fields.problem(where, f"holds invalid base64 ({error})")
                return None
        elif re.match(r"[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
            fields.problem(where, f"{shown(url)}: remote images are not fetched; embed a data URL or upload the file")
            return None
        else:
            path = safe_member_path(url)
            if path is None or self.upload is None or not self.upload.exists(path):
                fields.problem(where, f"{shown(url)} is not a file inside the upload")
                return None
            data = self.upload.read(path)
        checksum = hashlib.sha256(data).hexdigest()
        self.images.setdefault(checksum, data)
        return checksum

    def _note_case(self, values: dict, origin: Origin, fields: Fields) -> None:
        key = values["case"]
        tags = values["tags"] if values["tags"] is not None else {}
        described = {"title": values["title"] or key, "diagnosis": values["diagnosis"] or "", "tags": tags}
        first = self.cases.get(key)
        if first is None:
            paths = {"id": origin.fields["case"]} | {name: origin.fields[name] for name in described}
            self.cases[key] = _NewCase(Origin(origin.file, origin.line, paths), **described)
            return
        for name, value in described.items():
            if values[name] is not None and getattr(first, name) != value:
                fields.problem(
                    origin.fields[name],
                    f"{shown(value)} differs from {first.origin.file}:{first.origin.line} for case {key!r}",
                )

    def _note_model(self, values: dict, origin: Origin) -> None:
        if values["model"] not in self.models:
            data = {
                "id": values["model"],
                "name": values["model_name"] or values["model"],
                "family": values["family"],
                "provider": values["provider"] or "",
            }
            self.models[values["model"]] = (data, origin)

    def bundle(self) -> tuple[MemorySource, dict]:
        """The in-memory bundle, and where each of its records came from (for ``translate``)."""
        existing_cases = set(Case.objects.filter(key__in=self.cases).values_list("key", flat=True))
        stored = set(Image.objects.filter(case__key__in=existing_cases).values_list("case__key", "checksum"))
        for case, checksum, origin, where in self.image_uses:
            if case in existing_cases and (case, checksum) not in stored:
                self.log.add(
                    origin.file, origin.line, where, f"is not an image of the existing case {case!r}; name a new case"
                )
            elif case not in existing_cases and checksum not in self.cases[case].images:
                self.cases[case].images.append(checksum)
        origins: dict = {}
        cases = []
        for key, case in self.cases.items():
            if key in existing_cases:
                continue
            if not case.images:
                self.log.add(
                    case.origin.file,
                    case.origin.line,
                    "messages",
                    f"case {key!r} is new and none of its messages carries an image; a case needs at least one",
                )
            number = len(cases) + 1
            origins[(CASES, number)] = case.origin
            for index, (origin, where) in enumerate(self._image_uses_of(key, case)):
                image_fields = {f"images[{index}]": where, f"images[{index}].file": where}
                origins[(CASES, number, f"images[{index}]")] = Origin(origin.file, origin.line, image_fields)
            cases.append(self._case_record(key, case))
        if self.log:
            raise BundleInvalid(self.log.problems)
        existing_models = set(ModelUnderTest.objects.filter(key__in=self.models).values_list("key", flat=True))
        models = [(data, origin) for key, (data, origin) in self.models.items() if key not in existing_models]
        for index, (_, origin) in enumerate(models):
            origins[(MANIFEST, f"models[{index}]")] = origin
        for number, (_, origin) in enumerate(self.conversations, start=1):
            origins[(CONVERSATIONS, number)] = origin
        files = {
            MANIFEST: json.dumps(self._manifest([data for data, _ in models])).encode(),
            CASES: jsonl_bytes(cases),
            CONVERSATIONS: jsonl_bytes(record for record, _ in self.conversations),
        } | {f"images/{checksum}": data for checksum, data in self.images.items()}
        return MemorySource(self.label, files), origins

    def _image_uses_of(self, key: str, case: _NewCase) -> list[tuple[Origin, str]]:
        """Where each image of a new case was first given: its chat line and field."""
        first = {}
        for use_case, checksum, origin, where in self.image_uses:
            if use_case == key:
                first.setdefault(checksum, (origin, where))
        return [first[checksum] for checksum in case.images]

    def _case_record(self, key: str, case: _NewCase) -> dict:
        source, license_text = self.mapping.defaults["image_source"], self.mapping.defaults["image_license"]
        return {
            "id": key,
            "title": case.title,
            "diagnosis": case.diagnosis,
            "tags": case.tags,
            "images": [{"file": f"images/{c}", "source": source, "license": license_text} for c in case.images],
            "profile": {},
        }

    def _manifest(self, models: list[dict]) -> dict:
        rubric = Rubric.objects.filter(is_default=True).first()
        dimensions = list(rubric.dimensions.values_list("key", flat=True)) if rubric else []
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.mapping.name or f"Chat log {PurePath(self.label).name}"[:200],
            "description": self.mapping.description,
            "dimensions": dimensions or DEFAULT_DIMENSIONS,
            "models": models,
        }


def _without(raw: dict, paths: list[str]) -> dict:
    """A copy of ``raw`` without the (dotted) ``paths`` the mapping consumed; objects they empty go too."""
    copy = json.loads(json.dumps(raw, default=str))
    for path in paths:
        *parents, leaf = path.split(".")
        chain = [copy]
        for part in parents:
            chain.append(chain[-1].get(part) if isinstance(chain[-1], dict) else None)
        if isinstance(chain[-1], dict) and leaf in chain[-1]:
            del chain[-1][leaf]
            for parent, part in zip(reversed(chain[:-1]), reversed(parents), strict=True):
                if parent[part] == {}:
                    del parent[part]
    return copy


def _digest(value: object) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def jsonl_bytes(records) -> bytes:
    return "".join(json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records).encode()


def translate(error: BundleInvalid, origins: dict) -> BundleInvalid:
    """The bundle's problems, each named by the chat line and field it came from."""
    problems = []
    for problem in error.problems:
        origin, path = origins.get((problem.file, problem.line)), problem.field
        if problem.file == MANIFEST and (match := re.match(r"models\[\d+\]", path)):
            origin = origins.get((MANIFEST, match.group()))
            path = {"id": "model", "name": "model_name"}.get(path[match.end() + 1 :], path[match.end() + 1 :])
            path = origin.fields.get(path, path) if origin else path
        elif problem.file == CASES and (match := re.match(r"images\[\d+\]", path)):
            origin = origins.get((CASES, problem.line, match.group())) or origin
            path = origin.field_path(path) if origin else path
        elif origin:
            path = origin.field_path(path)
        message = _REFERENCE.sub(
            lambda m: (
                f"{origins[(CONVERSATIONS, int(m[1]))].file}:{origins[(CONVERSATIONS, int(m[1]))].line}"
                if (CONVERSATIONS, int(m[1])) in origins
                else m[0]
            ),
            problem.message,
        )
        file, line = (origin.file, origin.line) if origin else (problem.file, problem.line)
        problems.append(Problem(file, line, path, message))
    return BundleInvalid(problems, truncated=error.truncated)


def convert_rows(
    *, rows: Callable[[ProblemLog], Iterable[tuple[str, int, dict]]], mapping: ChatMapping, upload, label: str
) -> tuple[MemorySource, dict]:
    """Build the in-memory bundle from ``rows(log)``, which yields ``(file, line, object)`` and logs unreadable
    lines; BundleInvalid names every bad line."""
    converter = ChatConverter(mapping=mapping, upload=upload, label=label)
    try:
        for file, line, raw in rows(converter.log):
            converter.add(file=file, line=line, raw=raw)
        return converter.bundle()
    except TooManyProblems:
        raise BundleInvalid(converter.log.problems, truncated=True) from None
