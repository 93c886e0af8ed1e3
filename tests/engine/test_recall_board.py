"""A recalled ticket is one line of the board's calls: the recall refreshes it and moves it to the
top. Run on the pure model and on Lua in Redis (``tests.engine.drivers``), and over HTTP."""

from __future__ import annotations

import pytest

from engine import commands as c
from tests.engine.drivers import LiveRules, PureRules, Rules
from tests.support import MakeClinic


@pytest.fixture(params=["pure", pytest.param("live", marks=pytest.mark.integration)])
def rules(request: pytest.FixtureRequest) -> Rules:
    """The pure model, or the engine on real Redis and PostgreSQL (marked integration)."""
    if request.param == "pure":
        return PureRules()
    engine, clock = request.getfixturevalue("engine")
    return LiveRules(engine, clock)


async def test_a_recall_refreshes_the_tickets_line_and_moves_it_to_the_top(rules: Rules) -> None:
    """Called, another called after it, then recalled: each number once, the recalled first."""
    rules.clock.set("2026-11-26T09:00:00")
    await rules.open(max_recalls=3)
    await rules.run(c.SetDuty("d1", "on_duty"))
    first = (await rules.run(c.Issue("therapy")))["ticket"]
    second = (await rules.run(c.Issue("therapy")))["ticket"]
    await rules.run(c.CallNext("c0"))
    rules.clock.advance(1)
    await rules.run(c.CallNext("c1"))
    for recall in (1, 2):
        rules.clock.advance(1)
        await rules.run(c.Act(first.id, "recall"))
        calls = (await rules.board())["calls"]
        assert [x["number"] for x in calls] == [first.number, second.number]
        assert calls[0]["recall"] == recall
        assert calls[0]["at"] == rules.clock()


async def test_board_over_http_lists_a_recalled_number_once(clinics: MakeClinic) -> None:
    """Kiosk ticket, call-next, recall through the API: GET /board has that number once."""
    cc = await clinics("recall")
    duty = await cc.http.put(
        cc.api + "/doctors/d0/duty", json={"status": "on_duty"}, headers=cc.auth("head")
    )
    assert duty.status_code == 200, duty.text
    issued = await cc.http.post(
        cc.api + "/tickets", json={"service": "therapy"}, headers=cc.auth("kiosk", "k1")
    )
    assert issued.status_code == 201, issued.text
    ticket = issued.json()
    called = await cc.http.post(cc.api + "/cabinets/c0/call-next", headers=cc.auth("doctor"))
    assert called.status_code == 200, called.text
    recalled = await cc.http.post(
        cc.api + f"/tickets/{ticket['id']}/recall", headers=cc.auth("doctor", "r1")
    )
    assert recalled.status_code == 200, recalled.text
    board = await cc.http.get(cc.api + "/board", headers=cc.auth("display"))
    assert board.status_code == 200, board.text
    calls = board.json()["calls"]
    assert [x["number"] for x in calls] == [ticket["number"]]
    assert calls[0]["recall"] == 1
