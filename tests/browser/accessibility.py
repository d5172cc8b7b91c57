"""axe-core (vendored by axe-playwright-python) on the page a Playwright test has open."""

from axe_playwright_python.sync_playwright import Axe

BLOCKING = ("serious", "critical")
_AXE = Axe()


def blocking_violations(page) -> list[str]:
    """Each serious or critical axe-core violation of the page as "rule (impact): help — first targets"."""
    results = _AXE.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
            found.append(
                f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])} nodes): {violation['help']} — "
                + "; ".join(targets)
            )
    return found
