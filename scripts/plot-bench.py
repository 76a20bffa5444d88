#!/usr/bin/env python3
"""Seconds per stage against items, from `attest bench --json` reports.

    attest bench --items 100000   --json > bench-100k.json
    attest bench --items 1000000  --json > bench-1m.json
    attest bench --items 10000000 --json > bench-10m.json
    python3 scripts/plot-bench.py docs/bench-scaling.svg bench-100k.json bench-1m.json bench-10m.json

Writes an SVG (log-log axes, one line per stage; one chart per database when the reports
cover several) and prints, for each stage, how much its time grew from one size to the next
against how much the items grew. A stage that grows more than `--limit` times (default 12)
per tenfold items is flagged and the script exits 1: issue 18's "linear, not worse" check.

Close + remediation is plotted as its two halves when the report has them (`close_split`),
"close" and "removals", and both are judged against how much the number of removals grew: the
close's bulk is settling the unanswered items and planning their removals, so that, not the
items, is the work (at 100,000 items the bench's decisions answer nearly every item and leave
no removals; at 1,000,000 they leave most). A size with no removals is not compared.

Only the Python standard library: it runs wherever attest's tests run.
"""

import argparse
import json
import math
import sys
from collections import defaultdict
from xml.sax.saxutils import escape

# Stages whose time the bench sets by its own pace or sizes, not by the items: not plotted.
PACED = ("decisions",)
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#637939"]


def load(paths):
    """{database: {stage: [(items, seconds, work)]}}, sizes in increasing order. `work` is what
    the stage's time should follow: the items, or the removals for the removal half."""
    series = defaultdict(lambda: defaultdict(list))
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"{path}: {e}")
        for field in ("items", "database", "stages"):
            if field not in report:
                sys.exit(f"{path}: not an `attest bench --json` report (no {field!r})")
        database = report["database"].split(" ")[0]
        for stage in report["stages"]:
            if stage["name"].startswith(PACED):
                continue
            if stage["name"] == "close + remediation" and report.get("close_split"):
                split = report["close_split"]
                series[database]["close"].append(
                    (report["items"], split["close_seconds"], split["removals"]))
                series[database]["removals"].append(
                    (report["items"], split["remediation_seconds"], split["removals"]))
                continue
            series[database][stage["name"]].append(
                (report["items"], stage["seconds"], report["items"]))
    for stages in series.values():
        for points in stages.values():
            points.sort()
    return series


def growth(series, limit):
    """Lines of the growth table, and whether every stage stayed within `limit` per tenfold."""
    lines, ok = [], True
    for database, stages in sorted(series.items()):
        for name, points in stages.items():
            for (n0, s0, w0), (n1, s1, w1) in zip(points, points[1:]):
                if n0 <= 0 or s0 <= 0:
                    continue
                if w0 <= 0:
                    lines.append(f"{database:<10} {name:<28} {n0:>10,} -> {n1:>10,} items "
                                 f"not compared: none at {n0:,} items")
                    continue
                work = w1 / w0
                allowed = limit ** math.log10(max(work, 1.0))
                grew = s1 / s0
                flag = "" if grew <= allowed else f"  OVER {allowed:.1f}x"
                ok = ok and not flag
                of = "" if w0 == n0 and w1 == n1 else f" ({w0:,} -> {w1:,} {name})"
                lines.append(f"{database:<10} {name:<28} {n0:>10,} -> {n1:>10,} items "
                             f"x{work:<6.1f}{of} seconds {s0:>9.2f} -> {s1:>9.2f} x{grew:.2f}{flag}")
    return lines, ok


def chart(database, stages, x0, y0, width, height):
    """One log-log chart as SVG elements."""
    xs = [n for points in stages.values() for n, _, _ in points]
    ys = [max(s, 0.01) for points in stages.values() for _, s, _ in points]
    lx = (math.floor(math.log10(min(xs)) - 0.1), math.ceil(math.log10(max(xs)) + 0.1))
    ly = (math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys))))
    left, top, right, bottom = x0 + 70, y0 + 40, x0 + width - 230, y0 + height - 50

    def px(n):
        return left + (math.log10(n) - lx[0]) / max(lx[1] - lx[0], 1e-9) * (right - left)

    def py(s):
        return bottom - (math.log10(max(s, 0.01)) - ly[0]) / max(ly[1] - ly[0], 1e-9) * (bottom - top)

    out = [f'<text x="{x0 + width / 2}" y="{y0 + 22}" text-anchor="middle" font-size="16">'
           f'attest bench on {escape(database)}: seconds per stage</text>',
           f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
           f'fill="none" stroke="#444"/>']
    for e in range(lx[0], lx[1] + 1):
        x = px(10 ** e)
        out.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{x}" y="{bottom + 18}" text-anchor="middle" font-size="12">'
                   f'{10 ** e:,}</text>')
    for e in range(ly[0], ly[1] + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" font-size="12">'
                   f'{10 ** e:g} s</text>')
    out.append(f'<text x="{(left + right) / 2}" y="{bottom + 38}" text-anchor="middle" '
               f'font-size="13">eligibilities (items)</text>')
    for i, (name, points) in enumerate(sorted(stages.items())):
        colour = COLOURS[i % len(COLOURS)]
        coords = " ".join(f"{px(n):.1f},{py(s):.1f}" for n, s, _ in points)
        out.append(f'<polyline class="stage" data-stage="{escape(name)}" points="{coords}" '
                   f'fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, s, w in points:
            of = f" ({w:,} {name})" if w != n else ""
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(s):.1f}" r="3" fill="{colour}">'
                       f'<title>{escape(name)}: {n:,} items{escape(of)}, {s:.2f} s</title></circle>')
        ly_ = top + 14 + i * 18
        out.append(f'<line x1="{right + 15}" y1="{ly_ - 4}" x2="{right + 35}" y2="{ly_ - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{right + 40}" y="{ly_}" font-size="12">{escape(name)}</text>')
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("svg", help="the SVG file to write")
    parser.add_argument("reports", nargs="+", help="attest bench --json outputs")
    parser.add_argument("--limit", type=float, default=12.0,
                        help="most a stage's time may grow per tenfold items (default 12)")
    args = parser.parse_args()
    series = load(args.reports)
    if not series:
        sys.exit("no stages in the reports")
    width, height = 900, 480
    body = []
    for i, (database, stages) in enumerate(sorted(series.items())):
        body += chart(database, stages, 0, i * height, width, height)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height * len(series)}" font-family="sans-serif">'
           f'<rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>\n")
    with open(args.svg, "w", encoding="utf-8") as f:
        f.write(svg)
    lines, ok = growth(series, args.limit)
    print("\n".join(lines))
    print(f"wrote {args.svg}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
