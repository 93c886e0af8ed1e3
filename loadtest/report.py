"""The run's report: a JSON file and one self-contained HTML file with inline SVG plots."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from loadtest.recorder import Recorder


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def plots(recorder: Recorder) -> list[tuple[str, str]]:
    points = recorder.by_second.points()
    seconds = [s for s, _, _ in points]
    out = []
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for p, column in ((50, 1), (99, 2)):
        ax.plot(seconds, [point[column] / 1000 for point in points], label=f"p{p}")
    ax.set_xlabel("second of the run")
    ax.set_ylabel("latency, ms")
    ax.set_yscale("log")
    ax.legend()
    out.append(("Latency over time (from the scheduled start)", _svg(fig)))

    fig, ax = plt.subplots(figsize=(9, 3.2))
    span = range(0, (max(seconds) + 1) if seconds else 1)
    ax.plot(
        list(span), [recorder.target_per_second.get(s, 0) for s in span], label="target (started)"
    )
    ax.plot(
        list(span),
        [recorder.completed_per_second.get(s, 0) for s in span],
        label="achieved (answered)",
    )
    ax.set_xlabel("second of the run")
    ax.set_ylabel("requests / s")
    ax.legend()
    out.append(("Throughput: target against achieved", _svg(fig)))

    fig, ax = plt.subplots(figsize=(9, 3.2))
    quantiles = [50, 75, 90, 95, 99, 99.5, 99.9, 99.99]
    for op, h in sorted(recorder.by_op.items()):
        ax.plot(
            range(len(quantiles)),
            [h.get_value_at_percentile(q) / 1000 for q in quantiles],
            marker="o",
            label=op,
        )
    ax.set_xticks(range(len(quantiles)), [str(q) for q in quantiles])
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency, ms")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    out.append(("Percentile curves per operation", _svg(fig)))
    return out


def write(
    directory: Path, name: str, data: dict[str, Any], recorder: Recorder
) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    rows = "".join(
        f"<tr><td>{html.escape(op)}</td>"
        + "".join(f"<td>{v:g}</td>" for v in stats.values())
        + "</tr>"
        for op, stats in data["operations"].items()
    )
    header = "".join(
        f"<th>{html.escape(k)}</th>" for k in next(iter(data["operations"].values()), {})
    )
    verdict = (
        "all invariants hold"
        if not data["violations"]
        else f"{len(data['violations'])} invariant violations"
    )
    violations = "".join(
        f"<li>{html.escape(v['invariant'])}: {html.escape(v['detail'])}</li>"
        for v in data["violations"][:50]
    )
    screens = ""
    if data.get("screens"):
        sc, lat = data["screens"], data["screens"]["event_to_screen_ms"]
        screens = (
            f"<p>Live sockets: {sc['opened']} open (in {sc['open_seconds']:g} s) on "
            f"{sc['push_processes']} push processes, {sc['delivered_per_second']} frames/s; "
            f"event to screen p50 {lat['p50']:g} ms, p99 {lat['p99']:g} ms, p99.9 "
            f"{lat['p99.9']:g} ms, max {lat['max']:g} ms; push CPU "
            f"{sc['push_us_per_message']:g} us per delivered frame.</p>"
        )
    figures = "".join(f"<h2>{html.escape(title)}</h2>{svg}" for title, svg in plots(recorder))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:70rem}}
td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}}
.ok{{color:#05612a}}.bad{{color:#a0001b}}</style></head><body>
<h1>Load test: {html.escape(data["profile"]["name"])}</h1>
<p class="{"ok" if not data["violations"] else "bad"}"><strong>{verdict}</strong>.
Target {data["profile"]["ops_per_second"]:g} writes/s + {data["profile"]["reads_per_second"]:g} reads/s over
{data["profile"]["clinics"]} clinics for {data["profile"]["seconds"]:g} s; {data["requests"]} requests;
late starts p99 {data["late_start_p99_ms"]:g} ms; load generator CPU {data["generator_cpu_seconds"]:.1f} s.</p>
{screens}<ul>{violations}</ul>
<table><tr><th>operation</th>{header}</tr>{rows}</table>{figures}</body></html>"""
    html_path = directory / f"{name}.html"
    html_path.write_text(page)
    return json_path, html_path
