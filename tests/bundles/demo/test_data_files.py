"""The demo's data files: the bundle built from them is pinned byte for byte (every file must keep the SHA-256
recorded in bundle_checksums.json, so moving content between code and data files cannot change what is built),
and a malformed file is refused with an error that names the file, the entry and the field."""

import hashlib
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from bundles.demo import builder as demo
from bundles.demo.loader import load_demo_data
from bundles.demo.specs import DATA_DIR, DataFileError

CHECKSUMS = Path(__file__).with_name("bundle_checksums.json")


def checksums(path: Path) -> dict[str, str]:
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("seed", sorted(json.loads(CHECKSUMS.read_text(encoding="utf-8")), key=int))
def test_every_file_of_the_bundle_has_its_recorded_checksum(tmp_path, seed):
    expected = json.loads(CHECKSUMS.read_text(encoding="utf-8"))[seed]
    built = checksums(demo.build_demo_bundle(out_dir=tmp_path / "bundle", seed=int(seed)))
    assert sorted(built) == sorted(expected)
    changed = [name for name in expected if built[name] != expected[name]]
    assert not changed, f"these files are no longer byte-identical: {changed}"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_data_files_load():
    data = load_demo_data(DATA_DIR)
    assert len(data.cases) == len(demo.CASES) and set(data.images) == set(demo.IMAGES)


FIRST_CASE_AGE = "age = 63\n"


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        pytest.param("cases.toml", FIRST_CASE_AGE, "", ["case-0001", "missing field 'age'"], id="missing field"),
        pytest.param(
            "cases.toml", FIRST_CASE_AGE, 'age = "63"\n', ["case-0001", "field 'age'", "expected an integer"], id="type"
        ),
        pytest.param("cases.toml", FIRST_CASE_AGE, "age = 63\nagee = 63\n", ["unknown field 'agee'"], id="unknown key"),
        pytest.param(
            "cases.toml",
            'value = 7.8, unit = "ng/mL"',
            'value = true, unit = "ng/mL"',
            ["case-0001", "field 'labs[0].value'", "a boolean"],
            id="nested type",
        ),
        pytest.param(
            "cases.toml",
            '{ image = "chest_cr"',
            '{ image = "chest_xr"',
            ["field 'images[0].image'", "chest_xr"],
            id="ref",
        ),
        pytest.param(
            "images.toml",
            'sha256 = "7fbfd29360af806770102fd7c4ffcb2a133075bd00920a4bb63460d516f67ac4"\n',
            "",
            ["[chest_cr]", "missing field 'sha256'"],
            id="image field",
        ),
        pytest.param(
            "models.toml",
            "quality = [4.35, 4.15, 4.30]",
            'quality = [4.35, "high", 4.30]',
            ["field 'models[0].quality[1]'", "expected a float"],
            id="model quality",
        ),
        pytest.param(
            "models.toml",
            "quality = [4.35, 4.15, 4.30]",
            "quality = [4.35, 4.15]",
            ["models[0].quality", "3 values"],
            id="arity",
        ),
        pytest.param(
            "annotations.toml", '5 = "accurate findings', '6 = "accurate findings', ["rationale.accuracy"], id="scores"
        ),
        pytest.param(
            "conversation.toml",
            "I can see {finding}.",
            "I can see {findng}.",
            ["field 'first.findings.image.high'", "{findng}"],
            id="placeholder",
        ),
        pytest.param("conversation.toml", "[meanwhile]\n", "[meanwhile\n", ["not valid TOML"], id="syntax"),
        pytest.param(
            "terminology.toml", '"8867-4" = "Heart rate"', '"8867-4" = 8867', ["field 'loinc.8867-4'"], id="term"
        ),
    ],
)
def test_a_malformed_data_file_names_the_file_and_the_field(data_dir, file, old, new, expected):
    edit(data_dir / file, old, new)
    with pytest.raises(DataFileError) as raised:
        load_demo_data(data_dir)
    message = str(raised.value)
    assert raised.value.file == data_dir / file
    for part in [file, *expected]:
        assert part in message, message


def test_every_data_file_is_declared_as_package_data():
    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    assert "bundles*" in setuptools["packages"]["find"]["include"]
    patterns = setuptools["package-data"]["bundles.demo"]
    for path in DATA_DIR.iterdir():
        assert any(path.relative_to(DATA_DIR.parent).match(pattern) for pattern in patterns), path.name
