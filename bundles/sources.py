"""Reading the files of a benchmark bundle from a directory or a ``.zip``, safely.

Member paths that are absolute, escape the bundle's root or hold a NUL character are rejected; symlinks are
ignored; a zip's total uncompressed size and its compression ratio are capped (zip bombs).
"""

import stat
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath

MANIFEST = "manifest.json"


class UnsafeBundle(ValueError):
    """The bundle as a whole cannot be read safely (bad zip, bomb, no manifest)."""


def safe_member_path(raw: str) -> str | None:
    """Normalise a path inside a bundle; ``None`` when it is absolute or escapes the root."""
    if not raw or "\\" in raw or raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        return None
    parts = PurePosixPath(raw).parts
    if any(part == ".." for part in parts):
        return None
    cleaned = [part for part in parts if part not in ("", ".")]
    return "/".join(cleaned) or None


class BundleSource(ABC):
    """The files of a bundle, by their normalised relative path."""

    def __init__(self, label: str):
        self.label = label

    @abstractmethod
    def names(self) -> set[str]:
        """Every readable file, as a normalised relative path."""

    @abstractmethod
    def read(self, name: str) -> bytes:
        """The bytes of one file named by ``names()``."""

    def exists(self, name: str) -> bool:
        return name in self.names()

    def close(self) -> None:  # noqa: B027 — only zip sources hold a handle
        """Release any open file handle."""

    def __enter__(self) -> "BundleSource":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class DirectorySource(BundleSource):
    def __init__(self, root: Path):
        super().__init__(str(root))
        self.root = root.resolve()
        self._names: set[str] | None = None

    def names(self) -> set[str]:
        if self._names is None:
            found = set()
            for path in self.root.rglob("*"):
                if path.is_symlink() or not path.is_file():
                    continue
                if any(parent.is_symlink() for parent in path.relative_to(self.root).parents if parent != Path(".")):
                    continue
                found.add(path.relative_to(self.root).as_posix())
            self._names = found
        return self._names

    def read(self, name: str) -> bytes:
        if name not in self.names():
            raise FileNotFoundError(name)
        return (self.root / name).read_bytes()


class MemorySource(BundleSource):
    """A bundle built in memory (by an adapter): ``files`` maps each normalised path to its bytes."""

    def __init__(self, label: str, files: dict[str, bytes]):
        super().__init__(label)
        self.files = files

    def names(self) -> set[str]:
        return set(self.files)

    def exists(self, name: str) -> bool:
        return name in self.files

    def read(self, name: str) -> bytes:
        if name not in self.files:
            raise FileNotFoundError(name)
        return self.files[name]


class ZipSource(BundleSource):
    def __init__(self, path: Path, *, max_uncompressed_bytes: int, max_ratio: int):
        super().__init__(str(path))
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise UnsafeBundle(f"not a readable .zip file ({error})") from None
        self.members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        unsafe = []
        for info in self.zip.infolist():
            if "\0" in info.orig_filename:  # zipfile cuts the name at the NUL: "a.png\0.exe" would read as a.png
                self.zip.close()
                raise UnsafeBundle(f"a member name contains a NUL character: {info.orig_filename!r}")
            if info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
                continue
            name = safe_member_path(info.filename)
            if name is None:
                unsafe.append(info.filename)
                continue
            total += info.file_size
            if info.compress_size and info.file_size / info.compress_size > max_ratio and info.file_size > 1 << 20:
                self.zip.close()
                raise UnsafeBundle(
                    f"{info.filename}: compression ratio {info.file_size / info.compress_size:.0f}:1 "
                    f"exceeds the limit of {max_ratio}:1 (possible zip bomb)"
                )
            self.members[name] = info
        if unsafe:
            self.zip.close()
            raise UnsafeBundle(f"member paths escape the bundle or are absolute: {', '.join(sorted(unsafe)[:5])}")
        if total > max_uncompressed_bytes:
            self.zip.close()
            raise UnsafeBundle(
                f"uncompressed size {total:,} bytes exceeds the limit of {max_uncompressed_bytes:,} bytes"
            )
        self.prefix = self._root_prefix()

    def _root_prefix(self) -> str:
        """Bundles zipped with their folder keep the manifest one level down; read from there."""
        if MANIFEST in self.members:
            return ""
        tops = {name.split("/", 1)[0] for name in self.members}
        if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST}" in self.members:
            return next(iter(tops)) + "/"
        return ""

    def names(self) -> set[str]:
        return {name[len(self.prefix) :] for name in self.members if name.startswith(self.prefix)}

    def read(self, name: str) -> bytes:
        info = self.members.get(self.prefix + name)
        if info is None:
            raise FileNotFoundError(name)
        with self.zip.open(info) as handle:
            data = handle.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise UnsafeBundle(f"{name}: member is larger than its zip header says")
        return data

    def close(self) -> None:
        self.zip.close()


def open_bundle(path: Path, *, max_uncompressed_bytes: int, max_ratio: int) -> BundleSource:
    if path.is_dir():
        return DirectorySource(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return ZipSource(path, max_uncompressed_bytes=max_uncompressed_bytes, max_ratio=max_ratio)
    if not path.exists():
        raise UnsafeBundle("no such file or directory")
    if path.suffix.lower() == ".zip":
        raise UnsafeBundle(
            "not a readable .zip file: its table of contents is missing, so it is damaged or cut short "
            "(or not a zip at all); zip the bundle folder again and upload that"
        )
    raise UnsafeBundle("a bundle is a directory or a .zip file")
