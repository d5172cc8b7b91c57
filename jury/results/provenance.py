"""What every result a researcher takes away says about where it came from: the app, its version, when."""

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version


def app_version() -> str:
    try:
        return version("imcbench-studio")
    except PackageNotFoundError:
        return "unknown"


def provenance(**extra) -> dict:
    return {
        "app": "IMCBench Studio",
        "app_version": app_version(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
