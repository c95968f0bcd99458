"""The output-format registry, and the one-way street from the core to the faces.

Each output format is one module of ``cbc_ranges.formats``, named once in its
registry; the core (parsing, ranges, interpretation, the result models) never
imports a face. Import checks run in a fresh interpreter, so what other tests
imported cannot hide what a module pulls in.
"""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import cbc_ranges.formats as formats
from cbc_ranges import CBCError, interpret
from cbc_ranges.cli import build_parser, format_check
from cbc_ranges.fhir import interpretation_to_fhir
from cbc_ranges.formats import dumps, format_names, get_format, register, render, unregister
from cbc_ranges.models import Count, Interpretation, Person

PACKAGE = Path(formats.__file__).parents[1]

#: the steps of the pipeline and the result models: none of them may import a face
CORE = [
    "cbc_ranges.errors",
    "cbc_ranges.units",
    "cbc_ranges.count",
    "cbc_ranges.people",
    "cbc_ranges.ranges",
    "cbc_ranges.classify",
    "cbc_ranges.explain",
    "cbc_ranges.interpretation",
    "cbc_ranges.models",
]
# modules of the core that may not exist yet (the redesign adds them)
CORE_IF_PRESENT = ["cbc_ranges.data", "cbc_ranges.analytes"]
#: the faces: output formats, FHIR, the command line, batch, DataFrames, CSV files
FACES = (
    "cbc_ranges.fhir",
    "cbc_ranges.formats.",
    "cbc_ranges.cli",
    "cbc_ranges.batch",
    "cbc_ranges.frames",
    "cbc_ranges.csvfiles",
    "cbc_ranges.spark",
)


def _core_modules() -> list[str]:
    present = [
        name for name in CORE_IF_PRESENT if (PACKAGE / f"{name.rsplit('.', 1)[1]}.py").exists()
    ]
    return CORE + present


def _is_face(module: str) -> bool:
    return any(module == face or module.startswith(face) for face in FACES) or module.startswith(
        "cbc_ranges.batch."
    )


def _result(**more: Any) -> Interpretation:
    return interpret("3.1", "K/uL", age=40, sex="female", **more)


# ------------------------------------------------------------------ the registry


def test_the_built_in_formats_in_order() -> None:
    assert format_names()[:3] == ("text", "json", "fhir")


def test_every_module_of_the_package_is_a_registered_format() -> None:
    # a format is one module and one registry line: a module without its line is a mistake
    modules = sorted(p.stem for p in (PACKAGE / "formats").glob("*.py") if p.stem != "__init__")
    registered = {
        target.split(":")[0].rsplit(".", 1)[1]
        for target in formats._BUILT_IN.values()  # the registry table itself
    }
    assert modules == sorted(registered)
    for name in formats._BUILT_IN:
        assert callable(get_format(name)), name


def test_importing_the_registry_imports_no_format_module() -> None:
    code = """
        import sys
        import cbc_ranges.formats as formats
        names = formats.format_names()
        loaded = sorted(m for m in sys.modules if m.startswith("cbc_ranges.") )
        print(" ".join(loaded))
    """
    loaded = _run(code).split()
    assert "cbc_ranges.formats" in loaded
    assert [m for m in loaded if _is_face(m)] == []


def test_a_format_module_is_imported_only_when_it_is_used() -> None:
    code = """
        import sys
        from cbc_ranges import interpret
        from cbc_ranges.formats import render
        render("json", interpret("4.2", age=30))
        print(" ".join(sorted(m for m in sys.modules if m.startswith("cbc_ranges.formats."))))
    """
    assert _run(code).split() == ["cbc_ranges.formats.json"]


def test_fhir_format_is_what_to_fhir_and_interpretation_to_fhir_return() -> None:
    result = _result()
    rendered = render("fhir", result)
    assert rendered == interpretation_to_fhir(result)
    assert rendered == result.to_fhir()
    assert rendered["resourceType"] == "Observation"


def test_text_format_is_the_check_report() -> None:
    result = _result()
    text = render("text", result)
    assert text == format_check(result)
    assert isinstance(text, str) and text.startswith("flag: low (L)\n")
    assert dumps("text", result) == text


def test_json_format_is_the_interpretation_as_data() -> None:
    result = _result()
    data = render("json", result)
    assert isinstance(data, dict)
    assert Interpretation.model_validate(data) == result
    assert Interpretation.model_validate_json(dumps("json", result)) == result


@pytest.mark.parametrize("name", ["json", "fhir"])
def test_data_formats_are_strict_json_even_for_a_count_that_is_not_finite(name: str) -> None:
    for value in (math.inf, -math.inf, math.nan):
        result = Interpretation(
            count=Count(value=value, unit="10*9/L"),
            person=Person(),
            flag="indeterminate",
            code=None,
            leukopenia=None,
            text="No range applies. This is not a diagnosis.",
        )
        json.loads(dumps(name, result))  # dumps uses allow_nan=False: raises on NaN
        json.dumps(render(name, result), allow_nan=False)


def test_an_unknown_format_is_a_cbc_error_with_a_suggestion() -> None:
    with pytest.raises(CBCError, match=r"unknown output format 'jsn'.*text, json, fhir") as error:
        get_format("jsn")
    assert error.value.suggestions == ["json"]
    assert error.value.raw == "jsn"


def test_a_new_format_is_one_function_and_one_name() -> None:
    @register("flag-line")
    def flag_line(interpretation: Interpretation) -> str:
        return f"{interpretation.flag} {interpretation.code}"

    try:
        assert "flag-line" in format_names()
        assert render("flag-line", _result()) == "low L"
        assert dumps("flag-line", _result()) == "low L"
        with pytest.raises(ValueError, match="already registered"):
            register("flag-line", flag_line)
        register("flag-line", lambda interpretation: "replaced", replace=True)
        assert render("flag-line", _result()) == "replaced"
    finally:
        unregister("flag-line")
    assert "flag-line" not in format_names()


def test_a_format_can_be_registered_by_module_path_and_is_loaded_on_first_use() -> None:
    # the same form as the built-in table: "module:function"
    register("text-again", "cbc_ranges.formats.text:render")
    try:
        assert render("text-again", _result()) == render("text", _result())
    finally:
        unregister("text-again")


def test_a_built_in_format_cannot_be_replaced_by_accident_and_comes_back() -> None:
    with pytest.raises(ValueError):
        register("fhir", lambda interpretation: {})
    register("fhir", lambda interpretation: {"replaced": True}, replace=True)
    try:
        assert render("fhir", _result()) == {"replaced": True}
    finally:
        unregister("fhir")
    assert render("fhir", _result())["resourceType"] == "Observation"


@pytest.mark.parametrize("renderer", [42, "no-colon"])
def test_a_renderer_must_be_a_function_or_a_module_path(renderer: Any) -> None:
    with pytest.raises(TypeError):
        register("bad", renderer)
    assert "bad" not in format_names()


@pytest.mark.parametrize("name", ["", "  ", 3])
def test_a_format_name_must_be_text(name: Any) -> None:
    with pytest.raises(TypeError):
        register(name, format_check)


def test_the_cli_offers_exactly_the_registered_formats() -> None:
    parser = build_parser()
    check = parser._subparsers._group_actions[0].choices["check"]  # type: ignore[union-attr]
    (action,) = [a for a in check._actions if a.dest == "format" and a.choices]
    assert tuple(action.choices) == format_names()


# ------------------------------------------------------------------ the core imports no face


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def test_the_probe_sees_a_face() -> None:
    # the check below would pass vacuously if the probe could not see a face being imported
    code = """
        import sys
        import cbc_ranges.fhir
        print(" ".join(m for m in sys.modules if m.startswith("cbc_ranges.")))
    """
    assert any(_is_face(m) for m in _run(code).split())


@pytest.mark.parametrize("module", _core_modules())
def test_importing_a_core_module_imports_no_face(module: str) -> None:
    code = f"""
        import sys
        import {module}
        print(" ".join(sorted(m for m in sys.modules if m.startswith("cbc_ranges."))))
    """
    assert [m for m in _run(code).split() if _is_face(m)] == []


def _is_module(name: str) -> bool:
    parts = name.split(".")[1:]
    if not parts or name.split(".")[0] != "cbc_ranges":
        return False
    path = PACKAGE.joinpath(*parts)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _face_imports(module: str) -> list[str]:
    """Every face the module's source imports, at the top or inside a function."""
    path = PACKAGE / f"{module.rsplit('.', 1)[1]}.py"
    return _faces_in(path.read_text(encoding="utf-8"))


def _faces_in(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            # "from cbc_ranges.formats import render" is the registry; "... import fhir" a face
            names = [node.module] + [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _is_module(f"{node.module}.{alias.name}")
            ]
            found += [name for name in names if _is_face(name)][:1]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_face(alias.name)]
    return found


def test_the_source_check_sees_a_face_imported_inside_a_function() -> None:
    source = """
def to_fhir(self):
    from cbc_ranges.fhir import interpretation_to_fhir
    from cbc_ranges import cli
    from cbc_ranges.formats import render
    import cbc_ranges.formats.text
"""
    assert _faces_in(source) == ["cbc_ranges.fhir", "cbc_ranges.cli", "cbc_ranges.formats.text"]


@pytest.mark.parametrize("module", _core_modules())
def test_no_core_module_imports_a_face_even_inside_a_function(module: str) -> None:
    # the registry (cbc_ranges.formats) is allowed: it imports no face until a format is used
    assert _face_imports(module) == []


def test_to_fhir_in_a_fresh_interpreter_loads_only_the_fhir_format() -> None:
    code = """
        import sys
        from cbc_ranges.models import Count, Interpretation, Person
        Interpretation(count=Count(value=4.2), person=Person(), flag="indeterminate",
                       code=None, leukopenia=None, text="not a diagnosis").to_fhir()
        print(" ".join(sorted(m for m in sys.modules if m.startswith("cbc_ranges."))))
    """
    assert [m for m in _run(code).split() if _is_face(m)] == ["cbc_ranges.formats.fhir"]


# ------------------------------------------------------------------ keyword options


def test_render_passes_keyword_options_to_a_format_that_takes_them() -> None:
    result = _result()
    assert render("fhir", result, subject="Patient/1") == result.to_fhir(subject="Patient/1")
    assert render("fhir", result, id="x1")["id"] == "x1"
    assert json.loads(dumps("fhir", result, id="x1"))["id"] == "x1"
    assert render("fhir", result) == result.to_fhir()  # no options: as before


@pytest.mark.parametrize("name", ["text", "json"])
def test_an_option_a_format_does_not_take_is_a_type_error_naming_it(name: str) -> None:
    with pytest.raises(TypeError, match=f"output format '{name}' takes no option 'subject'"):
        render(name, _result(), subject="Patient/1")


def test_an_unknown_option_of_the_fhir_format_lists_the_ones_it_takes() -> None:
    with pytest.raises(TypeError, match="takes no option 'subjct'; it takes effective, id, "):
        render("fhir", _result(), subjct="Patient/1")


def test_a_registered_format_may_take_options_and_a_one_argument_one_still_works() -> None:
    @register("flag-option")
    def flag_option(interpretation: Interpretation, *, upper: bool = False) -> str:
        return interpretation.flag.upper() if upper else interpretation.flag

    @register("flag-any")
    def flag_any(interpretation: Interpretation, **options: Any) -> str:
        return f"{interpretation.flag} {sorted(options)}"

    try:
        assert render("flag-option", _result()) == "low"
        assert render("flag-option", _result(), upper=True) == "LOW"
        assert render("flag-any", _result(), a=1, b=2) == "low ['a', 'b']"
        with pytest.raises(TypeError, match="takes no option 'lower'; it takes upper"):
            render("flag-option", _result(), lower=True)
    finally:
        unregister("flag-option")
        unregister("flag-any")


def test_a_type_error_inside_a_renderer_is_not_reported_as_a_wrong_option() -> None:
    @register("broken")
    def broken(interpretation: Interpretation, *, upper: bool = False) -> str:
        raise TypeError("a bug in the renderer")

    try:
        with pytest.raises(TypeError, match="a bug in the renderer"):
            render("broken", _result(), upper=True)
    finally:
        unregister("broken")
