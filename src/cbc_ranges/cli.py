"""The ``cbc-ranges`` command: ``check``, ``ranges``, ``schema`` and ``batch``.

Errors go to stderr as one line, ``cbc-ranges: error: ...``, with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cbc_ranges.errors import CBCError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cbc-ranges`` command."""
    parser = argparse.ArgumentParser(
        prog="cbc-ranges",
        description="Read white blood cell counts, compare them with cited reference ranges "
        "and explain them. Educational only: not a diagnosis.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from cbc_ranges import batch

    batch_parser = commands.add_parser(
        "batch", help="check every row of a CSV file", description=batch.__doc__
    )
    batch.configure_parser(batch_parser)
    batch_parser.set_defaults(handler=batch.run_from_args)
    return parser


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
    except KeyboardInterrupt:
        print("cbc-ranges: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
