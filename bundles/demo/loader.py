"""Reading the demo's data files (bundles/demo/data/) into the spec classes of bundles.demo.specs.

:func:`load_demo_data` reads the TOML with ``tomllib`` and builds each record field by field from its type
hints. An unknown key, a missing field, a value of the wrong type, a reference to an image or a set of pronouns
that does not exist, or a placeholder the conversation templates cannot fill raises
:class:`~bundles.demo.specs.DataFileError` naming the file, the entry and the field. The data is loaded once, on
import, into the module-level names at the end (IMAGES, CASES, MODELS, ...).

This module imports nothing from Django.
"""

from __future__ import annotations

import dataclasses
import string
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from bundles.demo.specs import (
    DATA_DIR,
    DIMENSIONS,
    PLACEHOLDERS,
    SCALE,
    VITAL_SIGNS,
    AnnotationsFile,
    CaseSpec,
    ConversationText,
    DataFileError,
    DemoData,
    ImageSource,
    ModelsFile,
    Terminology,
)

# ------------------------------------------------------------------------------------------------------------
# Building spec records from TOML values.
# ------------------------------------------------------------------------------------------------------------

_TOML_TYPES = {
    str: "a string",
    int: "an integer",
    float: "a float",
    bool: "a boolean",
    list: "an array",
    dict: "a table",
}


@dataclass(frozen=True)
class _Place:
    """Where a value comes from, for error messages: the file and the entry in it."""

    file: Path
    entry: str | None = None

    def error(self, path: str, problem: str) -> DataFileError:
        return DataFileError(self.file, self.entry, f"field {path!r}: {problem}" if path else problem)


def _describe(value: object) -> str:
    kind = "a table" if isinstance(value, dict) else _TOML_TYPES.get(type(value), type(value).__name__)
    shown = repr(value)
    return f"{kind} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def _record_fields(cls: type) -> tuple[list[str], set[str]]:
    """The field names of a dataclass or NamedTuple, and the names that have a default."""
    if dataclasses.is_dataclass(cls):
        fields = [f for f in dataclasses.fields(cls) if f.init]
        optional = {
            f.name
            for f in fields
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        }
        return [f.name for f in fields], optional
    return list(cls._fields), set(cls._field_defaults)


def _is_record(hint: object) -> bool:
    return isinstance(hint, type) and (
        dataclasses.is_dataclass(hint) or issubclass(hint, tuple) and hasattr(hint, "_fields")
    )


def build_record(cls: type, table: object, place: _Place, path: str = ""):
    """A ``cls`` (dataclass or NamedTuple) from a TOML table, every field converted to its type hint."""
    if not isinstance(table, dict):
        raise place.error(path, f"expected a table, got {_describe(table)}")
    names, optional = _record_fields(cls)
    hints = typing.get_type_hints(cls)
    nullable = {name for name in names if type(None) in typing.get_args(hints[name])}
    prefix = f"{path}." if path else ""
    for key in table:
        if key not in names:
            raise DataFileError(
                place.file, place.entry, f"unknown field {prefix + key!r} (expected {', '.join(names)})"
            )
    for name in names:
        if name not in table and name not in optional | nullable:
            raise DataFileError(place.file, place.entry, f"missing field {prefix + name!r}")
    values = {name: None for name in nullable - optional}
    values.update({key: _convert(value, hints[key], place, prefix + key) for key, value in table.items()})
    return cls(**values)


def _convert(value: object, hint: object, place: _Place, path: str):
    """``value`` checked against (and converted to) ``hint``: records, unions, tuples, dicts and TOML scalars."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if _is_record(hint):
        return build_record(hint, value, place, path)
    if origin in (types.UnionType, typing.Union):
        for member in args:
            if type(value) is member or (member is float and type(value) is int and int not in args):
                return _convert(value, member, place, path)
            if _is_record(member) and isinstance(value, dict):
                return build_record(member, value, place, path)
        wanted = " or ".join(
            "nothing" if a is type(None) else "a table" if _is_record(a) else _TOML_TYPES[a] for a in args
        )
        raise place.error(path, f"expected {wanted}, got {_describe(value)}")
    if origin is tuple:
        if not isinstance(value, list):
            raise place.error(path, f"expected an array, got {_describe(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif len(value) != len(args):
            raise place.error(path, f"expected an array of {len(args)} values, got {len(value)}")
        return tuple(
            _convert(item, arg, place, f"{path}[{i}]") for i, (item, arg) in enumerate(zip(value, args, strict=True))
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise place.error(path, f"expected a table, got {_describe(value)}")
        key_type, value_type = args
        converted = {}
        for key, item in value.items():
            if key_type is int and not key.isdigit():
                raise place.error(f"{path}.{key}", "expected a whole-number key")
            converted[key_type(key)] = _convert(item, value_type, place, f"{path}.{key}")
        return converted
    if hint is float and type(value) is int:
        return float(value)
    if type(value) is not hint:
        raise place.error(path, f"expected {_TOML_TYPES[hint]}, got {_describe(value)}")
    return value


# ------------------------------------------------------------------------------------------------------------
# Loading the data files.
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CasesFile:
    escalate: str  # the escalation sentence of every case that does not set its own
    cases: tuple[dict, ...]


def read_toml(file: Path) -> dict:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise DataFileError(file, None, "missing (the demo's data files ship in bundles/demo/data/)") from None
    except tomllib.TOMLDecodeError as error:
        raise DataFileError(file, None, f"not valid TOML: {error}") from None


def load_images(file: Path) -> dict[str, ImageSource]:
    return {key: build_record(ImageSource, table, _Place(file, f"[{key}]")) for key, table in read_toml(file).items()}


def load_cases(file: Path, images: dict[str, ImageSource], text: ConversationText) -> tuple[CaseSpec, ...]:
    raw = build_record(_CasesFile, read_toml(file), _Place(file))
    cases = []
    for number, table in enumerate(raw.cases, start=1):
        title = table.get("title")
        place = _Place(file, f"case-{number:04d}" + (f" ({title!r})" if isinstance(title, str) else ""))
        spec = build_record(CaseSpec, {"escalate": raw.escalate, **table}, place)
        _check_case(spec, images, text, place)
        cases.append(spec)
    return tuple(cases)


def _check_case(spec: CaseSpec, images: dict[str, ImageSource], text: ConversationText, place: _Place) -> None:
    """What the types alone do not say: references to other files, and what the templates rely on."""
    if not spec.images:
        raise place.error("images", "a case needs at least one image")
    for index, image in enumerate(spec.images):
        if image.image not in images:
            raise place.error(f"images[{index}].image", f"no image {image.image!r} in images.toml")
    if spec.patient not in text.pronouns:
        raise place.error(
            "patient", f"no pronouns {spec.patient!r} in conversation.toml (one of {sorted(text.pronouns)})"
        )
    if spec.sex not in ("female", "male"):
        raise place.error("sex", f"expected 'female' or 'male', got {spec.sex!r}")
    if len(spec.red_flags) < 2:
        raise place.error("red_flags", "a case needs at least two red flags")
    for name in spec.vitals:
        if name not in VITAL_SIGNS:
            raise place.error(f"vitals.{name}", f"not a vital sign (expected one of {', '.join(VITAL_SIGNS)})")


def load_models(file: Path, text: ConversationText) -> ModelsFile:
    models = build_record(ModelsFile, read_toml(file), _Place(file))
    seen = set()
    for index, model in enumerate(models.models):
        if model.id in seen:
            raise _Place(file).error(f"models[{index}].id", f"{model.id!r} is listed twice")
        seen.add(model.id)
        if model.family not in text.style:
            raise _Place(file).error(f"models[{index}].family", f"no style for {model.family!r} in conversation.toml")
    return models


def load_annotations(file: Path) -> AnnotationsFile:
    annotations = build_record(AnnotationsFile, read_toml(file), _Place(file))
    if not 0 < annotations.annotated_share <= 1:
        raise _Place(file).error("annotated_share", "expected a share between 0 and 1")
    for dimension in DIMENSIONS:
        scores = sorted(getattr(annotations.rationale, dimension))
        if scores != list(range(SCALE[0], SCALE[1] + 1)):
            raise _Place(file).error(f"rationale.{dimension}", f"expected one text per score {SCALE[0]}-{SCALE[1]}")
    return annotations


def load_conversation_text(file: Path) -> ConversationText:
    text = build_record(ConversationText, read_toml(file), _Place(file))
    _check_placeholders(text, _Place(file), "")
    return text


def _check_placeholders(value: object, place: _Place, path: str) -> None:
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _check_placeholders(getattr(value, f.name), place, f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_placeholders(item, place, f"{path}.{key}")
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            _check_placeholders(item, place, f"{path}[{index}]")
    elif isinstance(value, str):
        try:
            names = [name for _text, name, _spec, _conversion in string.Formatter().parse(value) if name is not None]
        except ValueError as error:
            raise place.error(path, f"not a valid template: {error}") from None
        for name in names:
            if name not in PLACEHOLDERS:
                raise place.error(path, f"unknown placeholder {{{name}}} (see the comment at the top of the file)")


def load_demo_data(directory: Path = DATA_DIR) -> DemoData:
    """Every data file in ``directory``, validated; raises DataFileError naming the file, entry and field."""
    directory = Path(directory)
    text = load_conversation_text(directory / "conversation.toml")
    images = load_images(directory / "images.toml")
    return DemoData(
        images=images,
        cases=load_cases(directory / "cases.toml", images, text),
        models=load_models(directory / "models.toml", text),
        annotations=load_annotations(directory / "annotations.toml"),
        text=text,
        terminology=build_record(
            Terminology, read_toml(directory / "terminology.toml"), _Place(directory / "terminology.toml")
        ),
        notice=(directory / "NOTICE.txt").read_text(encoding="utf-8"),
    )


DATA = load_demo_data()
IMAGES = DATA.images
CASES = DATA.cases
MODELS = DATA.models.models
ANNOTATORS = DATA.annotations.annotators
TEXT = DATA.text
TERMINOLOGY = DATA.terminology
NOTICE = DATA.notice
