"""The data folders, and the one lazy, locked, clearable loader for everything read from them.

The shipped data (the ``ranges/`` folder of the repository) is installed as the
package ``cbc_ranges.range_data`` and found with :mod:`importlib.resources`,
never from ``__file__``. Extra folders with the same layout (``analytes.toml``,
``sources.toml``, range tables as ``*.csv``, ``explanations.toml``) add analytes,
tables, sources and text without a code change: name them in the environment
variable ``CBC_RANGES_PATH`` (folders separated by ``os.pathsep``, read when the
data is first loaded) or call :func:`add_data_path`. ``docs/contributing.md``
says what goes where.

Everything derived from these files is built once, on first use, behind one
re-entrant lock, by :func:`load`; :func:`clear_caches` forgets all of it (for
tests, and for a user who edits a table while the program runs).

>>> load("example.answer", lambda: 42)
42
>>> load("example.answer", lambda: 0)  # built once
42
>>> clear_caches(); load("example.answer", lambda: 0)
0
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from cbc_ranges.errors import RangeTableError

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable

    import tomllib
else:  # pragma: no cover - python 3.10
    from importlib.abc import Traversable

    import tomli as tomllib

__all__ = [
    "DATA_PACKAGE",
    "ENVIRONMENT_VARIABLE",
    "DataFile",
    "add_data_path",
    "cached",
    "clear_caches",
    "data_folders",
    "data_paths",
    "find_files",
    "load",
    "read_toml",
]

#: the package the shipped data files (the ``ranges/`` folder) are installed as
DATA_PACKAGE = "cbc_ranges.range_data"
#: the environment variable naming extra data folders (``os.pathsep`` between them)
ENVIRONMENT_VARIABLE = "CBC_RANGES_PATH"
#: how deep a TOML data file may nest (deeper is refused, not a RecursionError)
MAX_TOML_DEPTH = 32

_T = TypeVar("_T")
_LOCK = threading.RLock()
_CACHE: dict[str, Any] = {}
_ADDED: list[Path] = []


def load(key: str, build: Callable[[], _T]) -> _T:
    """The value cached under ``key``, built by ``build()`` on first use (thread-safe).

    Every cache of data read from files goes through here, so that
    :func:`clear_caches` reaches all of them.
    """
    try:
        return _CACHE[key]  # type: ignore[no-any-return]
    except KeyError:
        pass
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build()
        return _CACHE[key]  # type: ignore[no-any-return]


def cached(key: str) -> Any:
    """What :func:`load` holds under ``key``, or ``None``: a hot path's look-up, no build."""
    return _CACHE.get(key)


def clear_caches() -> None:
    """Forget every loaded data file and everything derived from them.

    The next call reads the files again (and ``CBC_RANGES_PATH`` with them).
    Range tables already handed out keep working; new look-ups get new tables.
    """
    with _LOCK:
        _CACHE.clear()


def add_data_path(path: str | os.PathLike[str]) -> None:
    """Add a folder of extra data (analytes, sources, tables, text), searched after the
    shipped data and the ``CBC_RANGES_PATH`` folders. Clears the caches.

    A folder that does not exist raises :class:`~cbc_ranges.errors.RangeTableError`.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise RangeTableError("not a folder", path=os.fspath(path))
    with _LOCK:
        if folder not in _ADDED:
            _ADDED.append(folder)
        _CACHE.clear()


def data_paths() -> list[Path]:
    """The extra data folders in use: ``CBC_RANGES_PATH``, then :func:`add_data_path`'s."""
    from_environment = [
        Path(part) for part in os.environ.get(ENVIRONMENT_VARIABLE, "").split(os.pathsep) if part
    ]
    return [*from_environment, *(path for path in _ADDED if path not in from_environment)]


def _shipped_folder() -> Traversable:
    try:
        return resources.files(DATA_PACKAGE)
    except ModuleNotFoundError:
        raise RangeTableError(
            f"the shipped range data (package {DATA_PACKAGE}) is not installed; "
            "reinstall cbc-ranges",
            path=DATA_PACKAGE,
        ) from None


class DataFile:
    """One data file: where it is shown from (``ranges/x.csv`` or a real path), and its text."""

    __slots__ = ("entry", "shipped", "shown")

    def __init__(self, entry: Traversable, shown: str, *, shipped: bool) -> None:
        self.entry = entry
        self.shown = shown
        self.shipped = shipped

    @property
    def name(self) -> str:
        return self.entry.name

    def read_text(self) -> str:
        """The file's text (UTF-8, a byte-order mark ignored)."""
        try:
            return self.entry.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise RangeTableError("not UTF-8 text", path=self.shown) from None
        except OSError as error:
            raise RangeTableError(f"cannot be read ({error.strerror})", path=self.shown) from None


def data_folders() -> list[tuple[Traversable, str, bool]]:
    """Each data folder as (folder, how its files are shown, whether it is the shipped one)."""
    folders: list[tuple[Traversable, str, bool]] = [(_shipped_folder(), "ranges", True)]
    for path in data_paths():
        if not path.is_dir():
            raise RangeTableError(
                f"a folder named in {ENVIRONMENT_VARIABLE} does not exist", path=str(path)
            )
        folders.append((path, str(path), False))
    return folders


def find_files(name: str | None = None, *, suffix: str | None = None) -> Iterator[DataFile]:
    """The data files called ``name`` (or ending in ``suffix``), shipped folder first."""
    for folder, shown, shipped in data_folders():
        entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
        for entry in entries:
            if not entry.is_file():
                continue
            if (name is not None and entry.name == name) or (
                suffix is not None and entry.name.endswith(suffix)
            ):
                yield DataFile(entry, f"{shown}/{entry.name}", shipped=shipped)


def read_toml(text: str, *, path: str) -> dict[str, Any]:
    """Parse a TOML data file; bad TOML or nesting deeper than 32 levels is a RangeTableError."""
    depth = 0
    deepest = 0
    quoted: str | None = None
    for character in text:  # a linear pre-scan: tomllib recurses on nested arrays
        if quoted is not None:
            if character == quoted:
                quoted = None
        elif character in "\"'":
            quoted = character
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
        elif character == "\n":
            depth = max(depth, 0)
    if deepest > MAX_TOML_DEPTH:
        raise RangeTableError(f"nested deeper than {MAX_TOML_DEPTH} levels", path=path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RangeTableError(f"not valid TOML: {error}", path=path) from None
    except RecursionError:  # pragma: no cover - the pre-scan refuses deep nesting first
        raise RangeTableError("nested too deeply", path=path) from None
