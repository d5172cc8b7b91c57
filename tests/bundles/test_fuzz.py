"""Fuzzing the importer: hypothesis mutates the records of a valid bundle (types, keys, odd and huge strings,
NaN, deep nesting, wrong ids and references). Whatever it makes, the import either succeeds or raises
BundleInvalid whose every problem names its file and line — never another exception — and a rejection leaves
every table and the media folder as they were."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from django.apps import apps
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bundles.importer import import_bundle
from bundles.problems import BundleInvalid
from tests.bundle_files import base_records, write_bundle

pytestmark = pytest.mark.django_db

FILES = ("cases", "conversations", "annotations", "judgements")
DEEP = "\x01deep:"  # a marker the writer expands into nesting json.dumps itself could not write
IDS = ["case-0001", "case-0002", "model-gpt", "conv-0001-model-claude-full", "clin-a", "judge-sim-1", "x" * 201]

odd_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "a\u2028b", "a\u2029b", "nul\x00", "\ud800", "\n", "id\n", "é" * 301, "../x.png"]),
    st.integers(min_value=1, max_value=400).map(lambda n: "long " * n),
)
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
    st.sampled_from(IDS),
    st.integers(min_value=50, max_value=20_000).map(lambda depth: f"{DEEP}{depth}"),
)
value = st.recursive(
    leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(odd_text, children, max_size=3),
    max_leaves=6,
)


def table_counts() -> dict:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def media_listing(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def containers(node, found):
    """Every dict and list inside ``node``, the node itself first."""
    if isinstance(node, dict | list):
        found.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            containers(child, found)
    return found


@st.composite
def mutation(draw, records):
    kind = draw(st.sampled_from(FILES))
    record = records[kind][draw(st.integers(min_value=0, max_value=len(records[kind]) - 1))]
    target = draw(st.sampled_from(containers(record, [])))
    if isinstance(target, list):
        keys = list(range(len(target)))
        action = draw(st.sampled_from(["replace", "drop", "add"] if keys else ["add"]))
        if action == "add":
            target.append(draw(value))
        else:
            index = draw(st.sampled_from(keys))
            if action == "drop":
                target.pop(index)
            else:
                target[index] = draw(value)
        return
    action = draw(st.sampled_from(["replace", "drop", "add"] if target else ["add"]))
    if action == "add":
        target[draw(odd_text)] = draw(value)
        return
    key = draw(st.sampled_from(sorted(target)))
    if action == "drop":
        del target[key]
    else:
        target[key] = draw(value)


def serialise(record, *, ascii_only: bool) -> str:
    text = json.dumps(record, ensure_ascii=ascii_only)
    marker = json.dumps(DEEP)[:-1]  # '"\\u0001deep:' in either mode: control characters are always escaped
    while (start := text.find(marker)) >= 0:
        end = text.index('"', start + 1)
        depth = int(text[start + len(marker) : end])
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1 :]
    return text


@st.composite
def bundles(draw):
    records = base_records()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        draw(mutation(records))
    return records, draw(st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bundle=bundles())
def test_any_mutated_bundle_imports_cleanly_or_is_rejected_with_located_problems(media_in_tmp, bundle):
    records, ascii_only = bundle
    with tempfile.TemporaryDirectory() as folder:
        raw = {
            f"{name}.jsonl": "".join(serialise(r, ascii_only=ascii_only) + "\n" for r in records[name])
            for name in FILES
        }
        root = write_bundle(Path(folder) / "bundle", {"manifest": records["manifest"]})
        for name, text in raw.items():
            (root / name).write_bytes(text.encode("utf-8", "surrogatepass"))
        before, files_before = table_counts(), media_listing(media_in_tmp)
        try:
            with transaction.atomic():
                try:
                    import_bundle(path=root)
                    event("imported")
                except BundleInvalid as error:
                    event("rejected")
                    assert error.problems
                    for problem in error.problems:
                        assert problem.file in raw and problem.line, f"unlocated problem: {problem}"
                    assert table_counts() == before
                    assert media_listing(media_in_tmp) == files_before
                transaction.set_rollback(True)  # every example starts from the same empty database
        finally:
            shutil.rmtree(media_in_tmp, ignore_errors=True)
