"""The rebuild benchmark runs (a short version of `make bench-rebuild`), so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_rebuild_bench_reports_snapshot_and_full_fold(redis_url: str, database_url: str) -> None:
    """6,000 entries: the report holds both rebuilds, and the snapshot's tail is the shorter."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "rebuild-bench", "--entries", "6000", "--repeat", "1"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    path = Path(done.stdout.strip().splitlines()[-1].removeprefix("report: "))
    (result,) = json.loads(path.read_text())["results"]
    path.unlink()
    assert result["entries"] == 6000
    assert (
        result["full_fold_s"] and result["snapshot_worst_tail_s"] and result["snapshot_at_head_s"]
    )
    assert result["snapshot_bytes"] > 0
