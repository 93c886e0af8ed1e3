"""A feed's board refresh while the stores do not answer (a Valkey master failing over, the
PostgreSQL primary lost): the engine raises ``Unavailable`` for it, and the feed must try again
at the next tick rather than let the refresh task die with an exception nobody retrieves."""

from __future__ import annotations

from typing import Any

import asyncpg

from displays.feed import Feed, FeedOptions
from engine.errors import Unavailable


async def test_a_board_refresh_that_finds_the_store_down_is_tried_again() -> None:
    """``Unavailable`` (the engine's store-down error) and a lost PostgreSQL connection leave
    the feed marked for another refresh, and raise nothing out of the refresh task."""
    failures: list[Exception] = [
        Unavailable("the live store did not answer: ConnectionError"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
    ]
    for failure in failures:

        async def down(clinic: str, failure: Exception = failure) -> dict[str, Any]:
            raise failure

        feed = Feed("c1", None, down, FeedOptions())
        feed.epoch = "e1"  # reading: a refresh is due
        await feed._refresh_board()  # the task tick() starts; it must not raise
        assert feed._dirty, f"{type(failure).__name__}: the refresh was dropped, not retried"
