"""Run today's benchmarks side by side: a base install ("before") against this tree ("after").

Run from the repository root, in the project's environment (the "after" side)::

    python benchmarks/side_by_side.py
    python benchmarks/side_by_side.py --bench batch,frames --rows 1000000 --rounds 3

The "before" side is a separate, non-editable install of the base commit in its own venv,
so that it does not follow edits to this tree. Set it up once::

    git worktree add --detach /work/base 8fd9ef1
    python3 -m venv /work/base/.venv
    pip freeze --exclude-editable > /tmp/constraints.txt   # in this tree's venv: same deps
    /work/base/.venv/bin/python -m pip install -c /tmp/constraints.txt '/work/base[test]'

Each chosen script (``bench_parse``, ``bench_interpret``, ``bench_batch``, ``bench_frames``)
runs as its own process, alternately under the base interpreter and this one (base, current,
base, current ... for ``--rounds``), so that a busy machine slows both alike. Both sides run
this tree's copy of the script, unless it imports something from ``cbc_ranges`` that the base
install lacks (checked before the first run) or it fails under the base interpreter: then the
base side runs the base tree's own copy, and the table says so. Each run's printed Markdown
table is read back for the key figures, and one table is printed: measurement, before, after,
after/before.

A cell holds the best figure over the rounds (``--aggregate best``: the lowest, or the highest
where higher is better; other work on the machine only ever slows a run, so the best run is
the least disturbed one) or their median (``--aggregate median``), followed by every round's
figure. Rows marked "(control)" time code that is the same on both sides (pint alone, the bare
csv pass, importing pydantic): their after/before is the machine's noise. For the noise of
every row, run the base against itself: ``--current-python /work/base/.venv/bin/python``.
The raw output of every run is kept in ``--log-dir``, and printed when a figure cannot be
read back or with ``--raw``. The exit code is 1 when any run failed.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CURRENT_TREE = HERE.parent
DEFAULT_BASE_PYTHON = Path("/work/base/.venv/bin/python")
DEFAULT_BASE_TREE = Path("/work/base")
BENCHES = ("parse", "interpret", "batch", "frames")
NUMBER = r"-?\d[\d,]*(?:\.\d+)?"


@dataclass(frozen=True)
class Figure:
    """One figure read back from a benchmark's Markdown table.

    ``label`` is how the row's first cell starts; ``column`` the cell that holds the figure
    (0 is the label itself); ``pattern`` the regular expression whose first group is the
    figure inside that cell (default: the cell's first number). A figure that is text rather
    than a number (``yes``/``no``) is kept as text and gets no ratio.
    """

    name: str
    label: str
    column: int = 1
    pattern: str = f"({NUMBER})"
    control: bool = False
    higher_is_better: bool = False


FIGURES: dict[str, list[Figure]] = {
    "parse": [
        Figure("parse_count, seen spelling, median per call (µs)", "`parse_count`, seen"),
        Figure("pint alone, median per call (µs) (control)", "pint alone", control=True),
        Figure(
            "speed-up over pint alone (×, higher is better)",
            "speed-up over pint",
            higher_is_better=True,
        ),
        Figure("import cbc_ranges, cumulative (ms)", "`import cbc_ranges` (cumulative"),
        Figure("import pydantic, cumulative (ms) (control)", "`import pydantic`", control=True),
        Figure(
            "from cbc_ranges import parse_count, wall (ms)",
            "`from cbc_ranges import parse_count`",
        ),
        Figure(
            "pydantic and one model, wall (ms) (control)",
            "`from pydantic import BaseModel`",
            control=True,
        ),
        Figure("import cbc_ranges loads pint", "`import cbc_ranges` loads pint", pattern=r"(\w+)"),
    ],
    "interpret": [
        Figure("parse_count alone, median per call (µs)", "`parse_count(value, unit)` alone"),
        Figure("interpret, median per call (µs)", "`interpret(value, unit"),
        Figure("interpret_count, median per call (µs)", "`interpret_count(count"),
        Figure("interpret_count, caches emptied (µs)", "`interpret_count` with the table"),
        Figure("interpret(...).model_dump_json() (µs)", "`interpret(...).model_dump_json()`"),
    ],
    "batch": [
        Figure("batch: bare csv pass, the floor (s) (control)", "bare csv.reader", control=True),
        Figure("batch: cbc-ranges batch (s)", "cbc-ranges batch"),
        Figure("batch: ratio batch / floor (×)", "cbc-ranges batch", pattern=rf"({NUMBER})x"),
        Figure("batch: naive pint per row (µs) (control)", "naive: pint", control=True),
        Figure("batch: peak RSS, small file (MiB)", "peak RSS batch"),
        Figure("batch: peak RSS, big file (MiB)", "peak RSS batch", pattern=rf"/\s*({NUMBER})"),
        Figure("batch: peak RSS ratio big / small (×)", "peak RSS batch", pattern=rf"({NUMBER})x"),
    ],
    "frames": [
        Figure("frames: interpret_frame, pandas (s)", "`interpret_frame`, pandas"),
        Figure("frames: interpret_frame, polars (s)", "`interpret_frame`, polars"),
        Figure("frames: check_csv, batch CSV path (s)", "`check_csv`"),
        Figure("frames: pandas / check_csv (×)", "`interpret_frame`, pandas", column=3),
        Figure("frames: polars / check_csv (×)", "`interpret_frame`, polars", column=3),
    ],
}


@dataclass
class Run:
    """One process: which side, which script, what it printed."""

    side: str
    script: Path
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    log: Path


@dataclass
class Side:
    """One interpreter and the benchmark scripts it runs."""

    name: str
    python: Path
    scripts: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    runs: dict[str, list[Run]] = field(default_factory=dict)


def script_args(bench: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The size options passed through to one script, as (flag, value)."""
    if bench == "batch":
        return [
            ("--rows", str(args.rows)),
            ("--repeat", str(args.repeat)),
            ("--small", str(args.small)),
            ("--naive-sample", str(args.naive_sample)),
        ]
    if bench == "frames":
        return [("--rows", str(args.rows)), ("--repeats", str(args.repeats))]
    return []


def accepted(script: Path, options: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The options whose flag the script's text names, and the flags it does not."""
    text = script.read_text(encoding="utf-8")
    kept: list[str] = []
    dropped: list[str] = []
    for flag, value in options:
        if f'"{flag}"' in text or f"'{flag}'" in text:
            kept += [flag, value]
        else:
            dropped.append(flag)
    return kept, dropped


def clean_env() -> dict[str, str]:
    """The environment for a child: no PYTHONPATH or venv variables that could mix the sides."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def package_imports(script: Path) -> list[tuple[str, str | None]]:
    """What a script takes from cbc_ranges: (module, name) pairs, name None for a module."""
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "cbc_ranges":
                found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.split(".")[0] == "cbc_ranges"]
    return found


CHECK_IMPORTS = """
import importlib, sys
missing = []
for module, name in {pairs!r}:
    try:
        mod = importlib.import_module(module)
        if name is not None and name != "*" and not hasattr(mod, name):
            importlib.import_module(module + "." + name)
    except Exception as error:
        missing.append(f"{{module}}.{{name or ''}}: {{type(error).__name__}}: {{error}}")
print("\\n".join(missing))
sys.exit(1 if missing else 0)
"""


def lacks(python: Path, script: Path, cwd: Path) -> str:
    """What of the script's cbc_ranges imports the interpreter lacks ('' when nothing)."""
    pairs = package_imports(script)
    if not pairs:
        return ""
    result = subprocess.run(
        [str(python), "-c", CHECK_IMPORTS.format(pairs=pairs)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(),
        check=False,
    )
    if result.returncode == 0:
        return ""
    return (result.stdout.strip() or result.stderr.strip()).replace("\n", "; ")


def provenance(python: Path, cwd: Path) -> str:
    """Where the interpreter imports cbc_ranges from, run from the scripts' own directory."""
    result = subprocess.run(
        [str(python), "-c", "import cbc_ranges, sys; print(cbc_ranges.__file__, sys.version)"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(),
        check=False,
    )
    if result.returncode != 0:
        return f"cannot import cbc_ranges: {result.stderr.strip().splitlines()[-1:]}"
    return result.stdout.strip().split(" ", 1)[0]


def git_state(tree: Path) -> str:
    def git(*command: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(tree), *command], capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    return f"{commit}" + (f" + {len(changed)} changed/untracked files" if changed else "")


def run_once(
    side: Side,
    bench: str,
    script: Path,
    options: list[str],
    round_number: int,
    log_dir: Path,
    timeout: float,
) -> Run:
    command = [str(side.python), str(script), *options]
    # the repository root the script comes from, as the scripts' docstrings ask
    cwd = script.parent.parent
    started = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=clean_env(),
            timeout=timeout,
            check=False,
        )
        returncode, stdout, stderr = result.returncode, result.stdout, result.stderr
    except subprocess.TimeoutExpired as error:
        returncode = -1
        stdout = _text(error.stdout)
        stderr = _text(error.stderr) + f"\n[side_by_side] timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - started
    own = "" if script.parent == HERE else ".own-script"
    log = log_dir / f"{bench}.round{round_number}.{side.name}{own}.log"
    log.write_text(
        f"$ cd {cwd} && {' '.join(command)}\n# exit {returncode}, {seconds:.1f} s\n"
        f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        encoding="utf-8",
    )
    return Run(side.name, script, seconds, returncode, stdout, stderr, log)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def table_rows(output: str) -> list[list[str]]:
    """The cells of every Markdown table row in a script's output (separator rows left out)."""
    rows = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            rows.append([cell.strip() for cell in line[1:-1].split("|")])
    return rows


def read_figure(output: str, figure: Figure) -> float | str | None:
    """The figure from one run's output, a float (or text), None when it cannot be found."""
    for cells in table_rows(output):
        if cells[0].startswith(figure.label) and len(cells) > figure.column:
            match = re.search(figure.pattern, cells[figure.column])
            if match is None:
                continue
            text = match.group(1)
            try:
                return float(text.replace(",", ""))
            except ValueError:
                return text
    return None


def _format(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def summarize(
    values: list[float | str], aggregate: str, higher_is_better: bool
) -> tuple[float | str | None, str]:
    """The figure over the rounds (text figures: the one value, or all of them), and the cell."""
    if not values:
        return None, "—"
    numbers = [value for value in values if isinstance(value, float)]
    if len(numbers) != len(values):
        distinct = sorted({str(value) for value in values})
        return distinct[0] if len(distinct) == 1 else None, "/".join(distinct)
    if aggregate == "median":
        middle = statistics.median(numbers)
    else:
        middle = max(numbers) if higher_is_better else min(numbers)
    if len(numbers) == 1:
        return middle, _format(middle)
    return middle, f"{_format(middle)} ({', '.join(_format(n) for n in numbers)})"


def report(
    benches: list[str], base: Side, current: Side, aggregate: str, show_raw: bool
) -> tuple[list[str], list[Run]]:
    """The Markdown table lines, and the runs whose output could not be read back in full."""
    lines = ["| measurement | before (base) | after (current) | after/before |"]
    lines.append("| --- | ---: | ---: | ---: |")
    unread: list[Run] = []
    for bench in benches:
        if base.scripts.get(bench) != current.scripts.get(bench):
            lines.append(
                f"| {bench}: the sides ran different copies of the script (see notes) | | | |"
            )
        for side in (base, current):
            failed = [run for run in side.runs.get(bench, []) if run.returncode != 0]
            if failed:
                lines.append(
                    f"| {bench}: {side.name} side failed in {len(failed)} of "
                    f"{len(side.runs[bench])} runs (logs: {failed[0].log.name}) | | | |"
                )
                unread += failed
        for figure in FIGURES[bench]:
            cells: list[str] = []
            middles: list[float | str | None] = []
            for side in (base, current):
                ok = [run for run in side.runs.get(bench, []) if run.returncode == 0]
                values = [read_figure(run.stdout, figure) for run in ok]
                found = [value for value in values if value is not None]
                unread += [run for run, value in zip(ok, values, strict=True) if value is None]
                middle, cell = summarize(found, aggregate, figure.higher_is_better)
                if ok and len(found) < len(ok):
                    cell += f" ({len(ok) - len(found)} unread)"
                elif not ok:
                    cell = "failed" if side.runs.get(bench) else "—"
                cells.append(cell)
                middles.append(middle)
            before, after = middles
            if isinstance(before, float) and isinstance(after, float) and before:
                ratio = f"{after / before:.2f}"
            elif isinstance(before, str) and isinstance(after, str):
                ratio = "same" if before == after else "differs"
            else:
                ratio = "—"
            lines.append(f"| {figure.name} | {cells[0]} | {cells[1]} | {ratio} |")
    if show_raw:
        unread = [run for side in (base, current) for runs in side.runs.values() for run in runs]
    unique: dict[Path, Run] = {}
    for run in unread:
        unique.setdefault(run.log, run)
    return lines, list(unique.values())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--base-python", type=Path, default=DEFAULT_BASE_PYTHON, help="the 'before' side"
    )
    parser.add_argument(
        "--base-tree",
        type=Path,
        default=DEFAULT_BASE_TREE,
        help="the base commit's work tree, for its own copy of a script",
    )
    parser.add_argument(
        "--current-python", type=Path, default=Path(sys.executable), help="the 'after' side"
    )
    parser.add_argument("--bench", default=",".join(BENCHES), help="comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side per script")
    parser.add_argument("--rows", type=int, default=200_000, help="batch and frames")
    parser.add_argument("--repeat", type=int, default=1, help="batch: runs per process")
    parser.add_argument("--small", type=int, default=100_000, help="batch: memory baseline")
    parser.add_argument("--naive-sample", type=int, default=5_000, help="batch: pint rows")
    parser.add_argument("--repeats", type=int, default=1, help="frames: runs per process")
    parser.add_argument(
        "--aggregate",
        choices=("best", "median"),
        default="best",
        help="how a cell sums up the rounds",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--log-dir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--raw", action="store_true", help="print every run's output")
    args = parser.parse_args()

    benches = [name.strip() for name in args.bench.split(",") if name.strip()]
    unknown = sorted(set(benches) - set(BENCHES))
    if unknown:
        parser.error(f"unknown --bench {unknown}; choose from {', '.join(BENCHES)}")
    if not args.base_python.exists():
        parser.error(f"no base interpreter at {args.base_python} (see this script's docstring)")
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="side_by_side_"))
    log_dir.mkdir(parents=True, exist_ok=True)

    base = Side("base", args.base_python)
    current = Side("current", args.current_python)
    options: dict[tuple[str, str], list[str]] = {}
    for bench in benches:
        script = HERE / f"bench_{bench}.py"
        own = args.base_tree / "benchmarks" / f"bench_{bench}.py"
        if not script.exists():
            current.notes.append(f"{bench}: {script} is gone; not run on the current side")
            if own.exists():
                base.scripts[bench] = own
            continue
        current.scripts[bench] = script
        missing = lacks(base.python, script, CURRENT_TREE)
        if missing and own.exists():
            base.scripts[bench] = own
            base.notes.append(f"{bench}: base lacks {missing}; base runs {own}")
        else:
            base.scripts[bench] = script
            if missing:
                base.notes.append(f"{bench}: base lacks {missing}, and has no {own}")
    for side in (base, current):
        for bench, script in side.scripts.items():
            kept, dropped = accepted(script, script_args(bench, args))
            options[(side.name, bench)] = kept
            if dropped:
                side.notes.append(f"{bench}: {script} takes no {', '.join(dropped)}; left out")

    started = time.perf_counter()
    print(f"base:    {args.base_python}", file=sys.stderr)
    print(f"current: {args.current_python}", file=sys.stderr)
    total = sum(args.rounds * len(side.scripts) for side in (base, current))
    done = 0
    for bench in benches:
        for round_number in range(1, args.rounds + 1):
            for side in (base, current):
                chosen = side.scripts.get(bench)
                if chosen is None:
                    continue
                run = run_once(
                    side,
                    bench,
                    chosen,
                    options[(side.name, bench)],
                    round_number,
                    log_dir,
                    args.timeout,
                )
                own = args.base_tree / "benchmarks" / chosen.name
                if run.returncode != 0 and side is base and chosen != own and own.exists():
                    # the current script does not run on the base install: use base's own copy
                    base.notes.append(
                        f"{bench}: this tree's script failed under base (see {run.log.name}); "
                        f"base runs {own} from then on"
                    )
                    base.scripts[bench] = own
                    options[("base", bench)] = accepted(own, script_args(bench, args))[0]
                    run = run_once(
                        side,
                        bench,
                        own,
                        options[("base", bench)],
                        round_number,
                        log_dir,
                        args.timeout,
                    )
                side.runs.setdefault(bench, []).append(run)
                done += 1
                status = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
                print(
                    f"[{done}/{total}] {bench} round {round_number} {side.name}: "
                    f"{run.seconds:.1f} s {status}",
                    file=sys.stderr,
                )
    elapsed = time.perf_counter() - started

    lines, unread = report(benches, base, current, args.aggregate, args.raw)
    print(f"side by side, {args.rounds} round(s) each, base and current alternating")
    print()
    for side, tree in ((base, args.base_tree), (current, CURRENT_TREE)):
        origin = provenance(side.python, CURRENT_TREE)  # from where the scripts run
        print(f"- {side.name}: `{side.python}`, cbc_ranges from `{origin}`")
        print(f"  tree {tree} at {git_state(tree)}")
        if side is base and Path(origin).resolve().is_relative_to(CURRENT_TREE):
            print("  WARNING: the base side imports this tree's code; its figures are not 'before'")
    sizes = " ".join(f"{flag} {value}" for flag, value in script_args("batch", args))
    print(f"- batch: {sizes}; frames: --rows {args.rows} --repeats {args.repeats}")
    print(f"- cells: {args.aggregate} over the rounds (each round's figure); logs in {log_dir}")
    print(f"- total time {elapsed:.0f} s, load average now {_load()}")
    for note in base.notes + current.notes:
        print(f"- note: {note}")
    print()
    print("\n".join(lines))
    for run in unread:
        print(f"\n--- raw output: {run.log} ---")
        print(run.log.read_text(encoding="utf-8").rstrip())
    failed = any(
        run.returncode != 0
        for side in (base, current)
        for runs in side.runs.values()
        for run in runs
    )
    return 1 if failed else 0


def _load() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
