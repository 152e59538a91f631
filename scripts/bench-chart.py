#!/usr/bin/env python3
"""Draws an SVG bar chart of a bench run: one panel per key metric, one bar per server.

    python3 scripts/bench-chart.py RESULTS_DIR [OUT.svg] [--title TEXT]

RESULTS_DIR is a folder that scripts/bench.sh wrote (artifacts/bench/<time>/ or --out DIR):
the generator's JSON results (`<tag>.<server>.r<round>.json` at its top level, one object per
run, see bench/src/bin/loadgen) and `table.md`. The JSON files are read when there are any;
otherwise the values come from table.md (so a table copied out of docs/performance.md can be
drawn too). The machine and command lines of table.md, when present, head the chart. OUT
defaults to RESULTS_DIR/chart.svg.

Panels: fanout deliveries/s and deliveries per server CPU-second, paced latency p99, idle
connections opened/s and KiB per connection (connected), history requests/s. Each bar is the
median over rounds, as in table.md; a value from an incomplete run is marked `*` and drawn
pale. The machine's ceiling for connections opened/s (the bench's acceptor, `ceiling/r*.json`)
and floor for paced p99 (the bench's relay, `floor/r*.json`), medians as bench.sh takes them,
are drawn as dashed lines when the run has them. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# (scenario, JSON path, label in table.md, panel title, higher is better, reference line)
PANELS = [
    ("fanout", "deliveries_per_s", "deliveries/s", "fanout: deliveries/s", True, None),
    (
        "fanout",
        "deliveries_per_server_cpu_s",
        "deliveries / server CPU-s",
        "fanout: deliveries per server CPU-s",
        True,
        None,
    ),
    ("paced", "latency.p99_ms", "latency p99 ms", "paced: latency p99 (ms)", False, "floor"),
    (
        "idle",
        "connections_per_s",
        "connections opened/s",
        "{tag}: connections opened/s",
        True,
        "ceiling",
    ),
    ("idle", "kib_per_conn", "KiB/conn, connected", "{tag}: KiB per connection", False, None),
    ("history", "requests_per_s", "requests/s", "history: requests/s", True, None),
]

ORDER = ["ours-memory", "ours-redis", "node", "fastapi"]
# Okabe-Ito: tells the servers apart for colour-blind readers too.
COLOURS = ["#56B4E9", "#0072B2", "#009E73", "#E69F00", "#CC79A7", "#D55E00", "#999999"]
REFERENCE = {
    "floor": "relay (floor)",
    "ceiling": "acceptor (ceiling)",
}


def median(xs: list[float]) -> float:
    """The median as the bench's table takes it: the upper middle of the sorted values."""
    xs = sorted(xs)
    return xs[len(xs) // 2]


def pointer(doc: dict, path: str) -> float | None:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return float(doc) if isinstance(doc, (int, float)) and not isinstance(doc, bool) else None


def fmt(x: float) -> str:
    """Numbers as the bench's table writes them (433.6k, 9673, 12.6, 0.33)."""
    a = abs(x)
    if a >= 10_000:
        return f"{x / 1000:.1f}k"
    if a >= 100 or x == int(x):
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


class Data:
    """What the chart needs: per panel, server -> (value, complete); reference lines; header."""

    def __init__(self) -> None:
        self.values: dict[int, dict[str, tuple[float, bool]]] = {i: {} for i in range(len(PANELS))}
        self.tags: dict[int, str] = {}
        self.reference: dict[str, float] = {}
        self.header: list[str] = []
        self.rounds = 0
        self.source = ""


def idle_tag(runs: dict[tuple[str, str], list[dict]]) -> str | None:
    """The idle run to draw: idle-10k when there, else the first one held by one process."""
    tags = sorted({tag for (tag, _), vs in runs.items() if vs[0].get("scenario") == "idle"})
    if "idle-10k" in tags:
        return "idle-10k"
    sharded = {tag for (tag, _), vs in runs.items() for v in vs if v.get("instances", 1) > 1}
    single = [t for t in tags if t not in sharded]
    return (single or tags or [None])[0]


def from_json(folder: Path, data: Data) -> bool:
    runs: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("tag", "server", "scenario")):
            continue
        runs.setdefault((doc["tag"], doc["server"]), []).append(doc)
    if not runs:
        return False
    data.source = "JSON"
    data.rounds = max(len(v) for v in runs.values())
    idle = idle_tag(runs)
    for i, (scenario, path, _, _, _, _) in enumerate(PANELS):
        tag = idle if scenario == "idle" else scenario
        if tag is None:
            continue
        data.tags[i] = tag
        for (t, server), docs in runs.items():
            if t != tag:
                continue
            xs = [x for x in (pointer(d, path) for d in docs) if x is not None]
            if xs:
                complete = all(d.get("complete") is True for d in docs)
                data.values[i][server] = (median(xs), complete)
    # The machine's ceiling and floor, as bench.sh takes them (a run it would not count is left out).
    ceilings = []
    for path in sorted((folder / "ceiling").glob("r*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        rate, wanted = pointer(doc, "connections_per_s"), pointer(doc, "params.connections")
        if rate is not None and wanted is not None and pointer(doc, "opened") == wanted:
            ceilings.append(rate)
    floors = []
    for path in sorted((folder / "floor").glob("r*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        p99 = pointer(doc, "latency.p99_ms")
        if doc.get("complete") is True and p99 is not None:
            floors.append(p99)
    if ceilings:
        data.reference["ceiling"] = median(ceilings)
    if floors:
        data.reference["floor"] = median(floors)
    return True


def number(cell: str) -> tuple[float, bool] | None:
    """A table cell (`433.6k`, `0.33`, `1545*`) as (value, complete); None for `–` and a/b/c."""
    cell = cell.strip()
    complete = not cell.endswith("*")
    cell = cell.rstrip("*")
    m = re.fullmatch(r"(-?[0-9.]+)(k?)", cell)
    if not m:
        return None
    return float(m.group(1)) * (1000 if m.group(2) else 1), complete


def from_table(folder: Path, data: Data) -> bool:
    table = folder / "table.md"
    if not table.is_file():
        return False
    servers: list[str] = []
    rows: dict[tuple[str, str], list[str]] = {}
    for line in table.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["scenario", "metric"]:
            servers = [c for c in cells[2:] if "/" not in c and c != "target"]
        elif servers and not set(cells[0]) <= set("-:"):
            rows[(cells[0], cells[1])] = cells[2 : 2 + len(servers)]
    if not rows:
        return False
    data.source = "table.md"
    tags = sorted({t for t, _ in rows})
    idle_tags = [t for t in tags if t.startswith("idle")]
    single = [t for t in idle_tags if (t, "server instances (one Redis)") not in rows]
    idle = "idle-10k" if "idle-10k" in idle_tags else (single or idle_tags or [None])[0]
    for i, (scenario, _, label, _, _, _) in enumerate(PANELS):
        tag = idle if scenario == "idle" else scenario
        if tag is None or (tag, label) not in rows:
            continue
        data.tags[i] = tag
        for server, cell in zip(servers, rows[(tag, label)]):
            value = number(cell)
            if value is not None:
                data.values[i][server] = value
    text = table.read_text()
    m = re.search(r"Ceiling for connections opened/s here: ([0-9.]+)/s", text)
    if m:
        data.reference["ceiling"] = float(m.group(1))
    m = re.search(r"Floor for paced latency p99 here: ([0-9.]+) ms", text)
    if m:
        data.reference["floor"] = float(m.group(1))
    return True


def header(folder: Path, data: Data) -> None:
    table = folder / "table.md"
    if table.is_file():
        for line in table.read_text().splitlines():
            if line.startswith(("machine:", "command:")):
                data.header.append(line)


def nice_step(top: float) -> float:
    """A round step giving three to five ticks up to `top`."""
    raw = top / 4
    mag = 1.0
    while mag * 10 <= raw:
        mag *= 10
    while mag > raw:
        mag /= 10
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def svg(data: Data, title: str) -> str:
    servers = sorted(
        {s for v in data.values.values() for s in v},
        key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s),
    )
    colour = {s: COLOURS[i % len(COLOURS)] for i, s in enumerate(servers)}
    panels = [i for i in range(len(PANELS)) if data.values[i]]
    cols, pw, ph = 3, 300, 250
    left, top_pad = 20, 96 + 16 * len(data.header)
    rows = (len(panels) + cols - 1) // cols
    width = left * 2 + cols * pw
    height = top_pad + rows * ph + 50
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">'
        ),
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="28" font-size="18" font-weight="bold">{escape(title)}</text>',
    ]
    y = 48
    for line in data.header:
        out.append(f'<text x="{left}" y="{y}" fill="#444">{escape(line)}</text>')
        y += 16
    # Legend.
    x = left
    for s in servers:
        out.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour[s]}"/>')
        out.append(f'<text x="{x + 17}" y="{y + 11}">{escape(s)}</text>')
        x += 30 + 8 * len(s)
    for n, i in enumerate(panels):
        scenario, _, _, name, higher, ref = PANELS[i]
        px = left + (n % cols) * pw
        py = top_pad + (n // cols) * ph
        out += panel(data, i, name.format(tag=data.tags.get(i, scenario)), higher, ref, servers, colour, px, py, pw, ph)
    rounds = f" (up to {data.rounds} per server)" if data.rounds else ""
    notes = f"Each bar is a server's median over its runs{rounds}, read from {data.source}."
    if any(not c for v in data.values.values() for _, c in v.values()):
        notes += " * = an incomplete run (pale bar)."
    if data.reference:
        notes += " Dashed line: what the bench's do-nothing servers reach on this machine."
    out.append(f'<text x="{left}" y="{height - 18}" fill="#444" font-size="11">{escape(notes)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def panel(data, i, name, higher, ref, servers, colour, px, py, pw, ph) -> list[str]:
    values = data.values[i]
    reference = data.reference.get(ref) if ref else None
    top = max([v for v, _ in values.values()] + ([reference] if reference else []))
    step = nice_step(top * 1.12 if top > 0 else 1)
    ymax = step * max(1, -(-top * 1.12 // step))
    plot_x, plot_y = px + 52, py + 42
    plot_w, plot_h = pw - 70, ph - 80
    scale = plot_h / ymax
    note = "higher is better" if higher else "lower is better"
    if reference:
        note += f"; dashed: {REFERENCE[ref]}, {fmt(reference)}"
    out = [
        f'<text x="{px + 8}" y="{py + 18}" font-weight="bold">{escape(name)}</text>',
        f'<text x="{px + 8}" y="{py + 33}" fill="#666" font-size="11">{escape(note)}</text>',
    ]
    tick = 0.0
    while tick <= ymax + step / 1000:
        ty = plot_y + plot_h - tick * scale
        out.append(f'<line x1="{plot_x}" y1="{ty:.1f}" x2="{plot_x + plot_w}" y2="{ty:.1f}" stroke="#e5e5e5"/>')
        label = f"{tick / 1000:g}k" if tick >= 1000 else f"{tick:g}"
        out.append(
            f'<text x="{plot_x - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="#666" font-size="10">{label}</text>'
        )
        tick += step
    present = [s for s in servers if s in values]
    slot = plot_w / max(len(present), 1)
    bar = min(44.0, slot * 0.7)
    for k, s in enumerate(present):
        v, complete = values[s]
        h = v * scale
        bx = plot_x + k * slot + (slot - bar) / 2
        by = plot_y + plot_h - h
        opacity = "1" if complete else "0.35"
        out.append(
            f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour[s]}" '
            f'fill-opacity="{opacity}"><title>{escape(s)}: {fmt(v)}{"" if complete else " (incomplete)"}</title></rect>'
        )
        label = fmt(v) + ("" if complete else "*")
        out.append(f'<text x="{bx + bar / 2:.1f}" y="{by - 4:.1f}" text-anchor="middle" font-size="11">{label}</text>')
    out.append(
        f'<line x1="{plot_x}" y1="{plot_y + plot_h}" x2="{plot_x + plot_w}" y2="{plot_y + plot_h}" stroke="#333"/>'
    )
    if reference:
        ry = plot_y + plot_h - reference * scale
        out.append(
            f'<line x1="{plot_x}" y1="{ry:.1f}" x2="{plot_x + plot_w}" y2="{ry:.1f}" stroke="#333" stroke-dasharray="5,4"/>'
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a folder written by scripts/bench.sh")
    parser.add_argument("out", type=Path, nargs="?", help="the SVG to write (default RESULTS/chart.svg)")
    parser.add_argument("--title", default="chat-server bench", help="the chart's title")
    args = parser.parse_args()
    data = Data()
    if not (from_json(args.results, data) or from_table(args.results, data)):
        print(f"bench-chart: no bench results (JSON files or table.md) in {args.results}", file=sys.stderr)
        return 1
    header(args.results, data)
    if not any(data.values.values()):
        print(f"bench-chart: none of the charted metrics in {args.results}", file=sys.stderr)
        return 1
    out = args.out or args.results / "chart.svg"
    out.write_text(svg(data, args.title))
    print(f"bench-chart: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
