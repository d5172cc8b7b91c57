"""The licence, and every runtime dependency and vendored front-end library named in the third-party list."""

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTED = (ROOT / "docs" / "third-party-licences.md").read_text()


def test_the_project_is_mit_licensed_by_its_contributors():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "IMCBench Studio contributors" in text


def test_every_runtime_and_deploy_dependency_is_listed():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["deploy"]
    names = {re.match(r"[A-Za-z0-9_.-]+", requirement).group(0) for requirement in requirements}
    missing = {name for name in names if name.lower() not in LISTED.lower()}
    assert not missing, f"add to docs/third-party-licences.md: {sorted(missing)}"


def test_every_vendored_front_end_package_is_listed_with_its_version():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name in json.loads((ROOT / "package.json").read_text())["dependencies"]:
        version = lock["packages"][f"node_modules/{name}"]["version"]
        assert f"{name} {version}" in LISTED, name
