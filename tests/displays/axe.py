"""axe-core in the page: every rule it has, failing on a serious or critical violation.

The script is the one ``axe-playwright-python`` (a dev dependency, from PyPI) ships: the same
axe-core on every machine and in CI, with no download at test time."""

from __future__ import annotations

import importlib.resources
import json
from functools import cache
from typing import Any

BLOCKING = ("serious", "critical")


@cache
def axe_script() -> str:
    return (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text("utf-8")


async def violations(page: Any) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now (hidden parts skipped)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(axe_script())
    results: dict[str, Any] = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    """One line a violation and its first nodes: enough to find the element in the template."""
    lines = []
    for v in found:
        nodes = [" ".join(n["target"]) + ": " + n["failureSummary"] for n in v["nodes"][:4]]
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): " + json.dumps(nodes))
    return "\n".join(lines)


class Audit:
    """Collects every page's violations, so that one run shows them all; ``done()`` fails."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    async def __call__(self, page: Any, where: str) -> None:
        found = await violations(page)
        if found:
            self.problems.append(f"axe on {where}:\n{describe(found)}")

    def done(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)


async def assert_accessible(page: Any, where: str) -> None:
    found = await violations(page)
    assert not found, f"axe on {where}:\n{describe(found)}"
