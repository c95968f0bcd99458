"""python -m cbc_ranges runs the command line."""

import sys

from cbc_ranges.cli import main

sys.exit(main())
