"""`--ports`: a benchmark's servers listen in the range given, in turn, skipping busy ports, and
a range too small for the run is refused before anything starts."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from loadtest.__main__ import cli
from loadtest.ports import Ports, PortsError


def test_parse_accepts_a_range_or_one_port_and_refuses_the_rest() -> None:
    """LOW-HIGH and PORT parse; nothing given means any free port; nonsense is an error."""
    assert (Ports.parse("20000-20009").low, Ports.parse("20000-20009").high) == (20000, 20009)
    assert Ports.parse("20000").size == 1
    assert not Ports.parse(None).placed
    for bad in ("x", "20000-", "20010-20000", "80", "20000-70000"):
        with pytest.raises(PortsError):
            Ports.parse(bad)


def _three_free_ports() -> int:
    """The first of three consecutive ports that bind now (retried until found)."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port + 2 > 65535:
                continue
            try:
                with socket.socket() as a, socket.socket() as b:
                    a.bind(("127.0.0.1", port + 1))
                    b.bind(("127.0.0.1", port + 2))
            except OSError:
                continue
            return int(port)
    raise AssertionError("no three free consecutive ports")


def test_take_walks_the_range_skipping_a_busy_port_until_it_is_used_up() -> None:
    """Ports come in order from the range, a port already listened on is skipped, and a used-up
    range raises rather than handing out a port outside it."""
    low = _three_free_ports()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", low + 1))
        busy.listen()
        ports = Ports(low, low + 2)
        assert (ports.take(), ports.take()) == (low, low + 2)
        with pytest.raises(PortsError):
            ports.take()
    assert ports.taken == [low, low + 2]


def test_without_a_range_any_free_port_is_taken() -> None:
    """No range: the behaviour before the option, a free port anywhere."""
    ports = Ports()
    port = ports.take()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert ports.taken == [port]


@pytest.mark.parametrize(
    ("args", "needs"),
    [
        (["knee", "--workers", "1,2"], 3),
        (["ws-bench", "--screens", "10", "--processes", "2", "--gc", "both"], 8),
        (["run", "smoke"], 2),
    ],
)
def test_a_range_too_small_is_refused_before_anything_starts(args: list[str], needs: int) -> None:
    """Each command counts the ports it will listen on and refuses a smaller range at once."""
    result = CliRunner().invoke(cli, [*args, "--ports", f"20000-{20000 + needs - 2}"])
    assert result.exit_code == 2, result.output
    assert f"listens on {needs} ports" in result.output


def test_every_benchmark_says_what_it_measures_against_what_and_where_it_writes() -> None:
    """Each command's --help names what it measures, its baseline, its report and --ports."""
    for command in ("bench", "ws-bench", "knee", "run", "rebuild-bench", "soak-days"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        for needle in ("Measures:", "Baseline:", "Writes: OUT/", "--ports", "--out"):
            assert needle in text, (command, needle)
