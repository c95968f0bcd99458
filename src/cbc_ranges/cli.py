"""The ``cbc-ranges`` command: ``check``, ``ranges``, ``schema``, ``batch`` and ``report``.

``cbc-ranges --version`` prints ``cbc-ranges <version>``. The command never
prints a traceback. Exit codes (also in ``docs/cli.md``):

- ``0``: done (also ``--help`` and ``--version``);
- ``1``: an internal error (a bug in cbc-ranges), one line on stderr,
  ``cbc-ranges: internal error: <type>: <message>``; set ``CBC_RANGES_TRACEBACK=1``
  to see the traceback instead;
- ``2``: the input cannot be read (any :class:`~cbc_ranges.errors.CBCError`:
  a value, unit, age, table or file), one line on stderr,
  ``cbc-ranges: error: ...``; argparse's usage errors use 2 as well;
- ``130``: interrupted (Ctrl-C), quietly;
- ``141``: the reader of stdout went away (``cbc-ranges ranges | head -1``),
  quietly: 128 + SIGPIPE, what the shell reports for a program the signal
  stopped, so a pipeline with ``set -o pipefail`` can still tell.

Text from the command line that is not valid UTF-8 (``--ethnicity $'\\xff'``
arrives as lone surrogates) is read with U+FFFD in place of the bad bytes
before it reaches the library, so it can always be printed and serialised.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, overload

from cbc_ranges.errors import CBCError, PersonError
from cbc_ranges.formats import dumps, format_names

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INPUT_ERROR",
    "EXIT_INTERNAL_ERROR",
    "EXIT_INTERRUPTED",
    "build_parser",
    "format_check",
    "main",
    "run_check",
    "run_ranges",
    "run_report",
    "run_schema",
]

Handler = Callable[[argparse.Namespace], int]

# a lone surrogate that surrogateescape did not make (it stands for no byte)
_NOT_ESCAPED_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")

#: a bug in cbc-ranges (reported as one line, never a traceback)
EXIT_INTERNAL_ERROR = 1
#: input that cannot be read: any CBCError, and argparse's usage errors
EXIT_INPUT_ERROR = 2
#: Ctrl-C: 128 + SIGINT
EXIT_INTERRUPTED = 130
#: stdout closed by its reader: 128 + SIGPIPE
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cbc-ranges`` command."""
    from cbc_ranges import __version__

    parser = argparse.ArgumentParser(
        prog="cbc-ranges",
        description="Read white blood cell counts, compare them with cited reference ranges "
        "and explain them. Educational only: not a diagnosis.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"cbc-ranges {__version__}",
        help="print 'cbc-ranges <version>' and exit",
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
    _add_report(commands)
    return parser


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from cbc_ranges import batch

    report = commands.add_parser(
        "report",
        help="make a teaching report (one HTML page) of a CSV file",
        description="Read a file as 'batch' does and write one self-contained HTML page that "
        "explains its counts: flags by sex, age and ancestry, plots, units, rows that could "
        "not be read and the sources. Plots need matplotlib: pip install "
        "'cbc-ranges[report]'. Educational only: not a diagnosis. Full rules: docs/report.md.",
    )
    report.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help="the HTML file to write (- for stdout); default: <input stem>.report.html "
        "next to the input",
    )
    batch.configure_parser(report, writes_csv=False)  # the same input options as batch
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """``cbc-ranges report``: the teaching report of a file, written as one HTML page.

    Every input option ``batch`` has reaches :func:`~cbc_ranges.batch.check_csv`
    by its name, so the two commands read a file the same way.
    """
    import inspect

    from cbc_ranges.batch import check_csv
    from cbc_ranges.reporting import default_output, report

    taken = set(inspect.signature(check_csv).parameters) - {"source", "output", "progress"}
    options = {name: getattr(args, name) for name in taken if hasattr(args, name)}
    if options.get("delimiter") in ("\\t", "tab", "TAB"):
        options["delimiter"] = "\t"
    options = {name: value for name, value in options.items() if value is not None}
    page = report(args.input, **options)
    output = args.output
    if output is None:
        output = default_output(args.input) if args.input != "-" else "-"
    if output == "-":
        sys.stdout.write(page.html)
    else:
        page.save(output)
    if not args.quiet:
        summary = page.summary
        print(
            f"cbc-ranges report: {summary.rows_read:,} rows read from {summary.input}: "
            f"{summary.low:,} low, {summary.normal:,} normal, {summary.high:,} high, "
            f"{summary.indeterminate:,} indeterminate, {summary.errors:,} not read; "
            f"written to {output}",
            file=sys.stderr,
        )
    return 0


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
    check.add_argument(
        "--analyte",
        default="wbc",
        help="what VALUE measures: wbc (default), neutrophils, lymphocytes, monocytes, "
        "eosinophils, basophils, or a header spelling such as ANC or NEUT%% "
        "(a unit of %% reads a percentage of white cells)",
    )
    check.add_argument("--age", help="age in years, or with a unit: '6 months', '10 days', '2y'")
    check.add_argument("--sex", help="female/male/F/M (anything else: unknown)")
    check.add_argument("--ethnicity", help="free text, e.g. 'Black', 'Middle Eastern'")
    check.add_argument(
        "--duffy",
        help="Duffy blood group status: null (Fy(a-b-)) selects the Duffy-null ranges; positive",
    )
    check.add_argument(
        "--wbc",
        help="the total white cell count (with its unit): turns a percentage into a count",
    )
    check.add_argument(
        "--grading",
        default="ctcae-v5",
        help="the grading system of the grade: ctcae-v5 (default), ctcae-v6, or none",
    )
    check.add_argument("--table", help="a shipped table's name or the path of a range table CSV")
    check.add_argument(
        "--lab-range",
        metavar="RANGE",
        help="the lab's own reference range, in the value's unit unless it names one: "
        "'4.0-11.0', '4.0 - 11.0 K/uL', '<11.0', '>4.0'; the flag then uses it",
    )
    check.add_argument(
        "--birth-date",
        metavar="YYYY-MM-DD",
        help="the date of birth: with --date, gives the exact age in days (instead of --age)",
    )
    check.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="the date the sample was taken: the age on that day with --birth-date, and "
        "the effectiveDateTime of --format fhir",
    )
    check.add_argument(
        "--subject",
        metavar="REF",
        help="--format fhir: the Observation's subject, e.g. Patient/123",
    )
    check.add_argument("--id", metavar="ID", help="--format fhir: the Observation's id")
    names = format_names()
    check.add_argument(
        "--format",
        choices=names,
        default="text",
        help=f"how to print the result: {', '.join(names)} (default: text)",
    )
    check.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="the same as --format json",
    )
    check.set_defaults(handler=run_check)


def _add_ranges(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ranges = commands.add_parser(
        "ranges",
        help="print a range table with its sources",
        description="Print a range table (by default the shipped 'standard' table) and the "
        "sources its rows cite, as Markdown.",
    )
    ranges.add_argument("--table", help="a shipped table's name or the path of a range table CSV")
    ranges.set_defaults(handler=run_ranges)


def _add_schema(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of a result",
        description="Print the JSON Schema (draft 2020-12) of the result of 'check --json' "
        "(an Interpretation), with $schema and an $id naming the library and its version.",
    )
    schema.set_defaults(handler=run_schema)


def run_check(args: argparse.Namespace) -> int:
    """``cbc-ranges check``: one count, printed in the format asked for (text by default)."""
    from cbc_ranges.interpretation import AgeInput, interpret
    from cbc_ranges.people import Age

    age: AgeInput = _readable(args.age)
    birth, date = _date(args.birth_date, "--birth-date"), _date(args.date, "--date")
    if birth is not None:
        if age is not None:
            raise PersonError("give the age as --age or as --birth-date, not both", raw=age)
        if date is None:
            raise PersonError("--birth-date needs --date, the day the sample was taken", raw=None)
        if date < birth:
            raise PersonError(f"--date {date} is before --birth-date {birth}", raw=str(date))
        age = Age.between(birth, date)
    result = interpret(
        _readable(args.value),
        _readable(args.unit),
        analyte=_readable(args.analyte) or "wbc",
        age=age,
        sex=_readable(args.sex),
        ethnicity=_readable(args.ethnicity),
        duffy=_readable(args.duffy),
        wbc=_readable(args.wbc),
        table=args.table,  # a path: kept as the file system gave it
        grading=None if args.grading.strip().lower() == "none" else _readable(args.grading),
        lab_range=_readable(args.lab_range),
    )
    output = getattr(args, "format", None) or "text"
    options: dict[str, object] = {}
    if output == "fhir":
        fhir = {"subject": _readable(args.subject), "id": _readable(args.id), "effective": date}
        options = {key: value for key, value in fhir.items() if value is not None}
    elif args.subject is not None or args.id is not None:
        raise CBCError("--subject and --id are written only with --format fhir", raw=None)
    print(dumps(output, result, **options))
    return 0


def _date(text: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD date of the command line, or a PersonError saying what was wrong."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise PersonError(
            f"{option} {_readable(text)!r} is not a date: write it as YYYY-MM-DD", raw=text
        ) from None


def format_check(result: Interpretation) -> str:
    """The plain-text report of ``cbc-ranges check`` (the ``text`` output format)."""
    from cbc_ranges.formats.text import render

    return render(result)


@overload
def _readable(text: str) -> str: ...
@overload
def _readable(text: None) -> None: ...
def _readable(text: str | None) -> str | None:
    """Command-line text with any undecodable bytes (lone surrogates) as U+FFFD.

    >>> _readable("Black\\udcff")
    'Black\\ufffd'
    """
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # surrogateescape gives back the bytes Python could not decode; other lone surrogates
        # (from an API, not from a command line) are replaced first
        escaped = _NOT_ESCAPED_SURROGATE.sub("\ufffd", text)
        return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def run_ranges(args: argparse.Namespace) -> int:
    """``cbc-ranges ranges``: the table and its sources as Markdown."""
    from cbc_ranges.ranges import get_table, render_markdown

    sys.stdout.write(render_markdown(get_table(args.table)))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    """``cbc-ranges schema``: the JSON Schema of :class:`~cbc_ranges.models.Interpretation`,
    with ``$schema`` and ``$id`` (:func:`cbc_ranges.formats.json.schema`)."""
    from cbc_ranges.formats.json import schema

    print(json.dumps(schema(), indent=2, ensure_ascii=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (listed in the module docstring).

    Argument errors from argparse raise ``SystemExit(2)`` as usual; everything else
    is returned as a code, with at most one line on stderr.
    """
    try:
        try:
            return _dispatch(argv)
        finally:
            # flush here, not at exit, so a closed pipe is met where it can be handled
            sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _dispatch(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handler: Handler = args.handler
        return handler(args)
    except CBCError as error:
        message = " ".join(str(error).split())  # one line, whatever the error held
        print(f"cbc-ranges: error: {message}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except (BrokenPipeError, KeyboardInterrupt):
        raise
    except Exception as error:  # a bug: one line, no traceback, unless asked for
        if os.environ.get("CBC_RANGES_TRACEBACK"):
            raise
        message = " ".join(str(error).split())
        print(
            f"cbc-ranges: internal error: {type(error).__name__}: {message} "
            "(please report this; CBC_RANGES_TRACEBACK=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


def _silence_stdout() -> None:
    # what is still buffered goes nowhere, so the exit flush cannot fail again
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a file (a test's capture)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
