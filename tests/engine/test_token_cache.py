"""The token cache is bounded: an outsider's stream of made-up tokens cannot grow a worker."""

from __future__ import annotations

import asyncpg
import pytest

from engine import auth
from engine.errors import Unauthorized

pytestmark = pytest.mark.integration


async def test_unknown_tokens_fill_a_bounded_cache(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 different unknown tokens: each refused, the cache never holds more than its size,
    and a real token still authenticates."""
    monkeypatch.setattr(auth, "CACHE_SIZE", 50)
    book = auth.TokenBook(db)
    for i in range(200):
        with pytest.raises(Unauthorized):
            await book.authenticate(f"Bearer made-up-{i}")
        assert len(book._cache) <= 50
    _, secret = await auth.create_token(db, "admin", label="cache-test")
    assert (await book.authenticate(f"Bearer {secret}")).role == "admin"
