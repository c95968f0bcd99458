"""The ``cbc-ranges`` command: ``check``, ``ranges``, ``schema`` and ``batch``.

Errors go to stderr as one line, ``cbc-ranges: error: ...``, with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cbc_ranges.errors import CBCError

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation

__all__ = ["build_parser", "format_check", "main", "run_check", "run_ranges", "run_schema"]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cbc-ranges`` command."""
    parser = argparse.ArgumentParser(
        prog="cbc-ranges",
        description="Read white blood cell counts, compare them with cited reference ranges "
        "and explain them. Educational only: not a diagnosis.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_check(commands)
    _add_ranges(commands)
    _add_schema(commands)

    from cbc_ranges import batch

    batch_parser = commands.add_parser(
        "batch", help="check every row of a CSV file", description=batch.__doc__
    )
    batch.configure_parser(batch_parser)
    batch_parser.set_defaults(handler=batch.run_from_args)
    return parser


def _add_check(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="check one WBC count",
        description="Compare one white blood cell count with the reference range for a person "
        "and print the flag, the range and an explanation (educational; not a diagnosis).",
    )
    check.add_argument(
        "value", metavar="VALUE", help="the count, e.g. 3.2, '4,200 cells/uL', '<1.0'"
    )
    check.add_argument("--unit", help="the unit, when not in VALUE (e.g. K/uL, 10^9/L, cells/uL)")
    check.add_argument("--age", help="age in years, or with a unit: '6 months', '10 days', '2y'")
    check.add_argument("--sex", help="female/male/F/M (anything else: unknown)")
    check.add_argument("--ethnicity", help="free text, e.g. 'Black', 'Middle Eastern'")
    check.add_argument("--table", help="a shipped table's name or the path of a range table CSV")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(handler=run_check)


def _add_ranges(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ranges = commands.add_parser(
        "ranges",
        help="print a range table with its sources",
        description="Print a range table (by default the shipped 'documents' table) and the "
        "sources its rows cite, as Markdown.",
    )
    ranges.add_argument("--table", help="a shipped table's name or the path of a range table CSV")
    ranges.set_defaults(handler=run_ranges)


def _add_schema(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of a result",
        description="Print the JSON Schema of the result of 'check --json' (an Interpretation).",
    )
    schema.set_defaults(handler=run_schema)


def run_check(args: argparse.Namespace) -> int:
    """``cbc-ranges check``: one count, printed as text or JSON."""
    from cbc_ranges.interpretation import interpret

    result = interpret(
        args.value,
        args.unit,
        age=args.age,
        sex=args.sex,
        ethnicity=args.ethnicity,
        table=args.table,
    )
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    print(format_check(result))
    return 0


def format_check(result: Interpretation) -> str:
    """The plain-text report of ``cbc-ranges check``."""
    from cbc_ranges.ranges import format_number

    count = result.count
    value = f"{count.comparator or ''}{format_number(count.value)} × 10⁹/L"
    written = count.raw if count.unit_text in count.raw else f"{count.raw} {count.unit_text}"
    if count.unit_text and count.unit != "10*9/L":
        value += f" (read from {written!r})"
    lines = [
        f"flag: {result.flag}" + (f" ({result.code})" if result.code else ""),
        f"value: {value}",
    ]
    reference = result.reference
    if reference is None:
        lines.append("range: none applies")
    else:
        lines.append(
            f"range: {format_number(reference.low or 0.0)}–{format_number(reference.high or 0.0)}"
            f" × 10⁹/L for {reference.population.description} [{reference.source.id}]"
        )
    threshold = result.leukopenia_threshold
    if threshold is not None and threshold.low is not None:
        answer = {True: "yes", False: "no", None: "cannot tell"}[result.leukopenia]
        lines.append(
            f"leukopenia: {answer} (threshold: below {format_number(threshold.low)} × 10⁹/L"
            f" [{threshold.source.id}])"
        )
    else:
        lines.append("leukopenia: not assessed (no threshold applies)")
    lines += [f"warning: {warning}" for warning in result.warnings]
    lines += ["", result.text, "", "sources:"]
    lines += [
        f"  [{source.id}] {source.title} ({source.publisher}"
        + (f", {source.date})" if source.date else ")")
        for source in result.sources
    ]
    return "\n".join(lines)


def run_ranges(args: argparse.Namespace) -> int:
    """``cbc-ranges ranges``: the table and its sources as Markdown."""
    from cbc_ranges.ranges import get_table, render_markdown

    sys.stdout.write(render_markdown(get_table(args.table)))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    """``cbc-ranges schema``: the JSON Schema of :class:`~cbc_ranges.models.Interpretation`."""
    from cbc_ranges.models import Interpretation

    print(json.dumps(Interpretation.model_json_schema(), indent=2, ensure_ascii=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CBCError as error:
        message = " ".join(str(error).split())  # one line, whatever the error held
        print(f"cbc-ranges: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("cbc-ranges: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
