"""The city drill runs only when asked (`make city-smoke`): it needs root, network namespaces
and nginx, and takes about two minutes."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CLINICQ_CITY") == "1":
        return
    skip = pytest.mark.skip(reason="the city drill runs with `make city-smoke` (root, netns)")
    for item in items:
        if item.get_closest_marker("city") is not None:
            item.add_marker(skip)
