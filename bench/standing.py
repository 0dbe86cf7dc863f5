"""Where each of issue 16's speed goals stands on each host: the goal table of several saved
full runs side by side, one column per host, bold where every run of that host meets the
goal (a goal counts when two full runs on a host meet it: bench/RESULTS.md).

    python bench/standing.py "Zen 4=A.json,B.json" "Zen 3=C.json,D.json"

Each argument is ``HOST=FILE[,FILE...]`` (files written by ``nongate-np bench --out``); the
values are each run's own (``benchmark.report.goal_values``): torch time / ours, ONNX
Runtime time / ours, the NumPy backend's time / ours. Prints a Markdown table; a goal a
host's runs did not measure shows "–".
"""

from __future__ import annotations

import argparse
import json
import sys

from nongate_np.benchmark.report import goal_values


def host_arg(text: str) -> tuple[str, list[str]]:
    """``HOST=FILE[,FILE...]`` as (host, files)."""
    host, sep, files = text.partition("=")
    if not sep or not host.strip() or not files.strip():
        raise argparse.ArgumentTypeError(f"expected HOST=FILE[,FILE...], got {text!r}")
    return host.strip(), [f for f in files.split(",") if f]


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        sys.exit(f"standing.py: cannot read the saved run {path}: {err}")


def figure(value: float | None, goal: float) -> str:
    """Two decimals (one from 10 up), three where two would round a miss up to the goal."""
    if value is None:
        return "–"
    text = f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return f"{value:.3f}" if float(text) >= goal > value else text


def table(hosts: list[tuple[str, list[dict]]]) -> str:
    """The Markdown table: a row per goal, in the order the runs list them; a column per host."""
    values: list[list[dict[str, float | None]]] = []
    goals: dict[str, float] = {}
    for _, runs in hosts:
        values.append([])
        for res in runs:
            rows = goal_values(res, list(res.get("timings", {})))
            values[-1].append({name: v for name, v, _ in rows})
            for name, _, g in rows:
                goals.setdefault(name, g)
    out = ["| goal (at least) | " + " | ".join(h for h, _ in hosts) + " |",
           "| --- |" + " --- |" * len(hosts)]
    for name, g in goals.items():
        cells = []
        for runs in values:
            got = [run.get(name) for run in runs]
            text = " / ".join(figure(v, g) for v in got)
            met = all(v is not None and v >= g for v in got)
            cells.append(f"**{text}**" if met else text)
        out.append(f"| {name} ({g:g}) | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hosts", nargs="+", type=host_arg, metavar="HOST=FILE[,FILE...]",
                        help="a host's name and its saved full runs")
    args = parser.parse_args(argv)
    print(table([(host, [load(f) for f in files]) for host, files in args.hosts]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
