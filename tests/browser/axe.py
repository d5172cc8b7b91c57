"""axe-core (bundled by axe-playwright-python) on the page as it stands: no serious or critical violation."""

from axe_playwright_python.sync_playwright import Axe

# WCAG A/AA rules, best practices, and the experimental check that a control's name contains its visible label.
OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice", "experimental"]},
}


def serious_violations(page) -> list[str]:
    """Each serious or critical violation as "rule: target, …" (empty when the page passes)."""
    results = Axe().run(page, options=OPTIONS)
    return [
        f"{violation['id']} ({violation['impact']}): "
        + ", ".join(" ".join(map(str, node["target"])) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
