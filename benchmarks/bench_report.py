"""Benchmark ``cbc-ranges report`` against ``cbc-ranges batch`` on the same file, side by side.

Run from the repository root with the project's venv active (matplotlib installed)::

    python benchmarks/bench_report.py                  # 1,000,000 rows, 3 rounds
    python benchmarks/bench_report.py --rows 200000 --repeat 1   # a quicker look

It uses the mixed-unit file of ``bench_batch.py`` (same generator, same seed,
under ``benchmarks/out/``) and times each command as a whole process
(interpreter start-up and imports included), taking turns so that a busy
machine slows all alike: ``batch`` (the columnar fast path when polars is
installed), ``batch --careful`` (the row loop; the report listens to both paths)
and ``report``. It reports the best round of each, the ratios (target: report
at most 2x batch), the size of the HTML page (target: under 2 MB) and the peak
RSS of each process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import OUT, generate, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    source = OUT / f"wbc_{args.rows}.csv"
    if not source.exists():
        print(f"generating {source.name} ...", file=sys.stderr)
        generate(source, args.rows)
    python = sys.executable
    page = OUT / "report.html"
    batch_cmd = [python, "-m", "cbc_ranges", "batch", str(source), "-o", str(OUT / "rb.csv"), "-q"]
    careful_cmd = [*batch_cmd, "--careful"]
    report_cmd = [python, "-m", "cbc_ranges", "report", str(source), "-o", str(page), "-q"]
    batches, carefuls, reports, rss_batch, rss_report = [], [], [], [], []
    for _ in range(args.repeat):
        seconds, rss = timed(batch_cmd)
        batches.append(seconds)
        rss_batch.append(rss)
        carefuls.append(timed(careful_cmd)[0])
        seconds, rss = timed(report_cmd)
        reports.append(seconds)
        rss_report.append(rss)
    batch, careful, made = min(batches), min(carefuls), min(reports)
    figures = {
        "rows": args.rows,
        "file_mb": round(source.stat().st_size / 1e6, 1),
        "batch_s": round(batch, 2),
        "report_s": round(made, 2),
        "ratio": round(made / batch, 2),
        "careful_s": round(careful, 2),
        "ratio_careful": round(made / careful, 2),
        "batch_runs_s": [round(s, 2) for s in batches],
        "careful_runs_s": [round(s, 2) for s in carefuls],
        "report_runs_s": [round(s, 2) for s in reports],
        "report_mb": round(page.stat().st_size / 1e6, 2),
        "rss_batch_mib": round(max(rss_batch) / 1024, 1),
        "rss_report_mib": round(max(rss_report) / 1024, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    print(
        f"\n| rows | batch (s) | batch --careful (s) | report (s) | report / batch "
        f"(target <= 2.0) | report / careful | page (MB, target < 2) |\n"
        f"| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        f"| {args.rows:,} | {batch:.2f} | {careful:.2f} | {made:.2f} | {made / batch:.2f} | "
        f"{made / careful:.2f} | {figures['report_mb']} |"
    )


if __name__ == "__main__":
    main()
