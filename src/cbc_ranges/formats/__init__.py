"""Output formats: one module per format, registered once by name.

An :class:`~cbc_ranges.models.Interpretation` is the one result of the library;
the ways of writing it out are faces, each in its own module here (as pint keeps
its ``html``, ``latex`` … formatters in ``delegates/formatter/``, one per key):

- ``text``: the report ``cbc-ranges check`` prints (a ``str``),
  :mod:`cbc_ranges.formats.text`;
- ``json``: every field of the Interpretation as JSON data (a ``dict``),
  :mod:`cbc_ranges.formats.json`;
- ``fhir``: a FHIR R4 ``Observation`` (a ``dict``), :mod:`cbc_ranges.formats.fhir`.

A renderer is a function of one ``Interpretation`` that returns either a
document (``str``) or JSON-ready data (a ``dict`` of plain JSON values, never
``NaN`` or ``Infinity``). It may also take keyword options (the ``fhir``
format takes ``subject``, ``effective``, ``id`` and ``performer``):
``render(name, result, **options)`` passes them on, and an option the
renderer does not take is a ``TypeError`` naming the format. :func:`render`
returns what the renderer returns; :func:`dumps` always gives text (data as
indented JSON), which is what the command line prints.

The registry table (``_BUILT_IN``) names each renderer as ``"module:function"`` and imports it on
first use, so importing this package imports no format module, and the core
(``models``, ``interpretation`` ...) can call :func:`render` without depending
on any face. **A new format is one new module and one line in**
``_BUILT_IN``; a program can add its own at run time with :func:`register`.

>>> format_names()
('text', 'json', 'fhir')
>>> from cbc_ranges import interpret
>>> result = interpret("3.1", "K/uL", age=40, sex="female")
>>> render("fhir", result)["valueQuantity"]["value"]
3.1
>>> render("fhir", result, subject="Patient/123")["subject"]
{'reference': 'Patient/123'}
>>> render("text", result, subject="Patient/123")
Traceback (most recent call last):
...
TypeError: output format 'text' takes no option 'subject'
>>> print(dumps("text", result).splitlines()[0])
flag: low (L)
>>> render("yaml", result)
Traceback (most recent call last):
...
cbc_ranges.errors.CBCError: unknown output format 'yaml'; known formats: text, json, fhir
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable
from json import dumps as _json_dumps  # not "import json": the json format module is .json
from typing import TYPE_CHECKING, Any, TypeAlias, overload

from cbc_ranges.errors import CBCError, suggest

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation

__all__ = [
    "Rendered",
    "Renderer",
    "dumps",
    "format_names",
    "get_format",
    "register",
    "render",
    "unregister",
]

#: what a renderer returns: a document, or JSON-ready data
Rendered: TypeAlias = "str | dict[str, Any]"
#: a renderer: one Interpretation in (and any keyword options it takes), a document or data out
Renderer: TypeAlias = "Callable[..., Rendered]"

# the built-in formats: name -> "module:function", imported on first use
_BUILT_IN: dict[str, str] = {
    "text": "cbc_ranges.formats.text:render",
    "json": "cbc_ranges.formats.json:render",
    "fhir": "cbc_ranges.formats.fhir:render",
}

# name -> a renderer, or the "module:function" that gives it; insertion order is listing order
_FORMATS: dict[str, Renderer | str] = dict(_BUILT_IN)
_LOCK = threading.RLock()  # re-entrant: a format module may register another as it loads


def format_names() -> tuple[str, ...]:
    """The names of the registered formats, built-in ones first.

    >>> "fhir" in format_names()
    True
    """
    return tuple(_FORMATS)


def get_format(name: str) -> Renderer:
    """The renderer registered as ``name``, its module imported on first use.

    An unknown name raises :class:`~cbc_ranges.errors.CBCError` listing the
    known ones (with a "did you mean" suggestion when one is close).

    >>> get_format("json").__module__
    'cbc_ranges.formats.json'
    """
    with _LOCK:
        target = _FORMATS.get(name) if isinstance(name, str) else None
        if target is None:
            known = ", ".join(_FORMATS)
            close = suggest(name, _FORMATS) if isinstance(name, str) else []
            raise CBCError(
                f"unknown output format {name!r}; known formats: {known}",
                raw=name,
                suggestions=close,
            )
        if isinstance(target, str):
            target = _FORMATS[name] = _load(target)
        return target


def _load(target: str) -> Renderer:
    module_name, _, attribute = target.partition(":")
    renderer: Renderer = getattr(importlib.import_module(module_name), attribute)
    return renderer


def render(name: str, interpretation: Interpretation, **options: Any) -> Rendered:
    """``interpretation`` in the format registered as ``name``: text or JSON-ready data.

    ``options`` go to the renderer as keywords; one it does not take is a
    ``TypeError`` naming the format and the option. ``render("fhir", result)``
    is what ``result.to_fhir()`` returns, ``render("fhir", result, subject=...)``
    what ``result.to_fhir(subject=...)`` returns.
    """
    renderer = get_format(name)
    if not options:
        return renderer(interpretation)
    _check_options(name, renderer, options)
    return renderer(interpretation, **options)


def _check_options(name: str, renderer: Renderer, options: dict[str, Any]) -> None:
    """Refuse an option the renderer does not take, before calling it (so a TypeError
    raised inside the renderer is never mistaken for a wrong option)."""
    try:
        parameters = list(inspect.signature(renderer).parameters.values())[1:]
    except (TypeError, ValueError):  # a callable without a signature: let the call decide
        return
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
        return
    taken = {
        parameter.name
        for parameter in parameters
        if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    }
    unknown = [option for option in options if option not in taken]
    if unknown:
        words = ", ".join(repr(option) for option in unknown)
        plural = "s" if len(unknown) > 1 else ""
        known = f"; it takes {', '.join(sorted(taken))}" if taken else ""
        raise TypeError(f"output format {name!r} takes no option{plural} {words}{known}")


def dumps(name: str, interpretation: Interpretation, **options: Any) -> str:
    """``interpretation`` in format ``name`` as text: data formats as indented JSON.

    The JSON is strict (``allow_nan=False``): a renderer that leaves a ``NaN``
    or an infinity in its data is a bug, and raises ``ValueError`` here rather
    than writing something other tools cannot read.

    >>> from cbc_ranges import interpret
    >>> print(dumps("json", interpret("7.4", "K/uL", age=35, sex="M")).splitlines()[0])
    {
    """
    rendered = render(name, interpretation, **options)
    if isinstance(rendered, str):
        return rendered
    return _json_dumps(rendered, indent=2, ensure_ascii=False, allow_nan=False)


@overload
def register(name: str, renderer: Renderer | str, *, replace: bool = ...) -> None: ...
@overload
def register(
    name: str, renderer: None = ..., *, replace: bool = ...
) -> Callable[[Renderer], Renderer]: ...
def register(
    name: str, renderer: Renderer | str | None = None, *, replace: bool = False
) -> Callable[[Renderer], Renderer] | None:
    """Register ``renderer`` as format ``name``; without ``renderer``, a decorator.

    ``renderer`` may be a function or a ``"module:function"`` string, imported on
    first use. A name that is taken raises :class:`ValueError` unless
    ``replace=True``.

    >>> @register("flag-only")
    ... def flag_only(interpretation):
    ...     return interpretation.flag
    >>> from cbc_ranges import interpret
    >>> render("flag-only", interpret("12.5", "G/L", age=33, sex="m"))
    'high'
    >>> unregister("flag-only")
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"a format name must be a non-empty str, not {name!r}")

    def add(function: Renderer | str) -> None:
        if not (callable(function) or (isinstance(function, str) and ":" in function)):
            raise TypeError(
                f"a renderer must be a function or a 'module:function' string, not {function!r}"
            )
        with _LOCK:
            if name in _FORMATS and not replace:
                raise ValueError(f"output format {name!r} is already registered")
            _FORMATS[name] = function

    if renderer is None:

        def decorator(function: Renderer) -> Renderer:
            add(function)
            return function

        return decorator
    add(renderer)
    return None


def unregister(name: str) -> None:
    """Forget format ``name`` (a built-in one goes back to its module's renderer)."""
    with _LOCK:
        if name in _BUILT_IN:
            _FORMATS[name] = _BUILT_IN[name]
        else:
            _FORMATS.pop(name, None)
