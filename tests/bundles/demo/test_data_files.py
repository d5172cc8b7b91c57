"""The demo bundle is pinned byte for byte: every file it writes must keep the SHA-256 recorded in
bundle_checksums.json, so moving the demo's content between code and data files cannot change what is built."""

import hashlib
import json
from pathlib import Path

import pytest

from bundles.demo import builder as demo

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
