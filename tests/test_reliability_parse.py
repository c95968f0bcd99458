"""Reliability of the parse side: bounded time, typed errors, finite numbers, bounded caches.

docs/reliability.md says what is promised; each test here names the promise it checks.
The measured problems of the reliability issue are pinned as cases: each hung, gave
``inf`` or raised an untyped error before the fix.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbc_ranges import CBCError, ParseError, UnitError, parse_count
from cbc_ranges import count as count_module
from cbc_ranges import units as units_module
from cbc_ranges.count import MAX_VALUE_CHARS, parse_percentage
from cbc_ranges.units import MAX_UNIT_CHARS, POWERS_OF_TEN, read_unit, unit_dimension

ROOT = Path(__file__).resolve().parents[1]
FAST = 0.5  # seconds: a bound no linear step comes near, and any super-linear one passes

# pieces that made a pattern backtrack, or that a pattern repeats over
ADVERSARIAL_PIECES = [
    "leuk", "leu", "cells", "10^", "10^9", "x10^9/L", "k", "thou", "(", ")", "{", "}", "[",
    "1,", "1.", ",", ".", "'", " ", "\t", "per ", "e", "1e", "9", "<", "<=", "-", "⁹", "µ",
    "Âµ", "/", "10*3", "١", "4٥", " 000", "'000", "\u202f", "\x00", "a", "%", "^", "*",
]  # fmt: skip


def _time(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(CBCError):
        call()
    return time.perf_counter() - started


# ---------------------------------------------------------------- bounded time


@pytest.mark.parametrize("piece", ADVERSARIAL_PIECES)
@pytest.mark.parametrize("length", [10_000, 20_000])
def test_adversarial_repeats_parse_fast(piece: str, length: int) -> None:
    text = (piece * (length // len(piece) + 1))[:length]
    for value, unit in (
        (text, None),
        ("1 " + text + "x", None),
        (text + "x", "K/uL"),
        ("4.2", text),
        ("4.2", text + "x"),
        ("<" + text, None),
    ):
        assert _time(lambda v=value, u=unit: parse_count(v, u)) < FAST, (piece, length)


# the patterns themselves, on text longer than the library ever gives them: each must be
# linear on its own, not only thanks to the length bounds
_PATTERNS: list[tuple[str, Callable[[str], object]]] = [
    ("_VALUE", lambda t: count_module._VALUE.match(t)),
    ("_PLAIN_NUMBER", lambda t: count_module._PLAIN_NUMBER.fullmatch(t)),
    ("_LAB_FLAG", lambda t: count_module._LAB_FLAG.match(t)),
    ("_THOUSANDS_COMMA", lambda t: count_module._THOUSANDS_COMMA.match(t)),
    ("_THOUSANDS_DOT", lambda t: count_module._THOUSANDS_DOT.match(t)),
    ("_UNIT_GRAMMAR", lambda t: units_module._UNIT_GRAMMAR.match(t.lower())),
    ("_NO_VOLUME", lambda t: units_module._NO_VOLUME.fullmatch(t.lower())),
    ("_PER_WORD", lambda t: units_module._PER_WORD.sub("/", t)),
    ("_compact", units_module._compact),
    ("_dimension_of", lambda t: units_module._dimension_of(t, *units_module._unit_table())),
]


@pytest.mark.parametrize(("name", "pattern"), _PATTERNS, ids=[name for name, _ in _PATTERNS])
def test_every_pattern_is_linear_on_20k_adversarial_characters(
    name: str, pattern: Callable[[str], object]
) -> None:
    slowest = 0.0
    for piece in ADVERSARIAL_PIECES:
        for head in ("", "1", "1 ", "< ", "4.2 ", "10^9"):
            for tail in ("", "x", "!", "/L"):
                text = head + (piece * (20_000 // len(piece)))[:20_000] + tail
                started = time.perf_counter()
                pattern(text)
                slowest = max(slowest, time.perf_counter() - started)
    assert slowest < FAST, f"{name}: {slowest:.3f} s"


ISSUE_CASES: list[tuple[object, object]] = [
    ("1", "9^9^9^9"),  # pint evaluated it: never returned
    ("4.2x10^3 10^9/L", None),  # past 60 s
    ("4.2", "10^3 10^3/uL"),  # 31 s
    ("1", "a" * 80_000),  # 33 s: quadratic
    ("1", "leuk" * 26 + "x"),  # 9 s: exponential
    ("leuk" * 26 + "x", None),
    (" " * 3_000 + "x", None),  # the old value pattern was cubic in leading spaces
    ("1 a" + " " * 20_000 + "b", None),
    ("1", "per " * 5_000 + "x"),
    ("1", "10**10**10**10/L"),
    ("1", "(" * 5_000 + "L" + ")" * 5_000),
]


def test_the_hangs_of_the_issue_finish_fast() -> None:
    # in a child process, so that a regression fails this test instead of hanging the suite
    code = (
        "import json, sys, time\n"
        "from cbc_ranges import CBCError, parse_count\n"
        "cases = json.loads(sys.stdin.read())\n"
        "parse_count('4.2', 'K/uL')  # import once, outside the timing\n"
        "slowest = 0.0\n"
        "for value, unit in cases:\n"
        "    started = time.perf_counter()\n"
        "    try:\n"
        "        parse_count(value, unit)\n"
        "    except CBCError:\n"
        "        pass\n"
        "    slowest = max(slowest, time.perf_counter() - started)\n"
        "print(slowest)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(ISSUE_CASES),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert float(done.stdout) < FAST


def _repeated() -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(ADVERSARIAL_PIECES), st.text(min_size=1, max_size=4))
    return st.builds(
        lambda head, p, times, tail: head + p * times + tail,
        st.sampled_from(["", "1", "4.2 ", "<", " "]),
        piece,
        st.integers(0, 5_000),
        st.text(max_size=4),
    )


@settings(max_examples=300, deadline=None)
@given(_repeated(), st.one_of(st.none(), _repeated(), st.text(max_size=30)))
def test_any_repeated_text_gives_a_finite_count_or_a_cbc_error_fast(
    value: str, unit: str | None
) -> None:
    started = time.perf_counter()
    try:
        result = parse_count(value, unit)
    except CBCError:
        pass
    else:
        assert math.isfinite(result.value) and math.copysign(1.0, result.value) == 1.0
    assert time.perf_counter() - started < FAST


# ---------------------------------------------------------------- no pint on lab text


def test_unit_text_longer_than_the_bound_is_refused_unread() -> None:
    with pytest.raises(UnitError, match="too long"):
        read_unit("K/uL" + "x" * MAX_UNIT_CHARS)
    assert read_unit("  K/uL  " + " " * 500).factor == 1.0  # spaces around do not count
    with pytest.raises(ParseError, match="too long"):
        parse_count("4" * (MAX_VALUE_CHARS + 1))


def _expressions() -> list[str]:
    words = ["g", "mg", "kg", "mcg", "ug", "L", "l", "dL", "mL", "fL", "nL", "m", "mm", "cm"]
    words += ["mol", "mmol", "U", "IU", "kU", "%", "cells", "cell", "hpf", "liters", "grams"]
    out = list(words)
    for a in words:
        for b in words:
            out += [f"{a}/{b}", f"{a}*{b}", f"{a}/{b}2", f"{a}^2/{b}^3", f"/{a}"]
    return out


def test_the_dimension_reader_agrees_with_pint() -> None:
    registry = units_module._unit_registry()
    offenders = []
    for expression in _expressions():
        # pint reads a digit after a unit as a power only after ** (our mm3 is mm**3)
        if any(ch.isdigit() for ch in expression) and "^" not in expression:
            continue
        ours = unit_dimension(expression)
        for_pint = ("1" if expression.startswith("/") else "") + expression.replace("^", "**")
        theirs = dict(registry.parse_units(for_pint).dimensionality)
        if ours != theirs:
            offenders.append((expression, ours, theirs))
    assert offenders == []


@pytest.mark.parametrize(
    "text", ["9^9^9^9", "10**10**10", "2mg/dL", "mg/dL/" * 20, "mg dL", "", "mg//dL", "(mg)/dL"]
)
def test_the_dimension_reader_never_evaluates_numbers(text: str) -> None:
    assert unit_dimension(text) is None


# ---------------------------------------------------------------- finite numbers


@pytest.mark.parametrize("volume", sorted(POWERS_OF_TEN))
@pytest.mark.parametrize("power", range(16))
def test_only_the_powers_of_ten_labs_use_are_read(volume: str, power: int) -> None:
    unit = f"10^{power}/{volume}"
    if power in POWERS_OF_TEN[volume]:
        factor = read_unit(unit).factor
        assert 1e-9 <= factor <= 1e3
    else:
        with pytest.raises(UnitError, match="not a unit labs use"):
            read_unit(unit)


def test_interpret_gives_no_infinity_for_the_issue_case() -> None:
    from cbc_ranges.interpretation import interpret

    with pytest.raises(CBCError):
        interpret("1e300", "10^99/L", age=40)


@pytest.mark.parametrize("value", ["1e308", "1.7976931348623157e308", 1e308, "9" * 180 + "e130"])
def test_a_finite_number_with_an_infinite_count_is_a_parse_error(value: object) -> None:
    with pytest.raises(ParseError):
        parse_count(value, "10^12/L")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("٤٥", 45.0), ("۴۵", 45.0), ("४५", 45.0), ("٤.٥", 4.5), ("45", 45.0)],
)
def test_digits_of_one_script_are_read(value: str, expected: float) -> None:
    assert parse_count(value, "K/uL").value == expected


@pytest.mark.parametrize("value", ["4٥", "٤5", "۴٥", "4.٥", "4e٣", "١2,5"])
def test_digits_of_two_scripts_in_one_number_are_refused(value: str) -> None:
    with pytest.raises(ParseError, match="scripts"):
        parse_count(value, "K/uL")


# ---------------------------------------------------------------- typed errors


ODD_TYPES: list[object] = [None, True, [1], {"value": 1}, b"4.2", object(), complex(1, 2), (4.2,)]


@pytest.mark.parametrize("value", ODD_TYPES, ids=[type(v).__name__ for v in ODD_TYPES])
def test_a_value_of_a_wrong_type_is_a_type_error_naming_value(value: object) -> None:
    with pytest.raises(TypeError, match=r"^value must be str, int or float"):
        parse_count(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^value must be"):
        parse_percentage(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("unit", ODD_TYPES[1:], ids=[type(v).__name__ for v in ODD_TYPES[1:]])
def test_a_unit_of_a_wrong_type_is_a_type_error_naming_unit(unit: object) -> None:
    for value in ("4.2", "4.2 K/uL", "4.2 H"):
        with pytest.raises(TypeError, match=r"^unit must be str or None"):
            parse_count(value, unit)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^unit must be str or None"):
        read_unit(unit)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [10**400, -(10**400), float("nan"), float("-inf"), "1e400", "0x10", "1_000", "4.2.1e3"],
)
def test_numbers_no_float_can_hold_are_parse_errors(value: object) -> None:
    with pytest.raises(ParseError):
        parse_count(value, "K/uL")


def test_decimals_and_fractions_are_numbers_too() -> None:
    from decimal import Decimal
    from fractions import Fraction

    assert parse_count(Decimal("4.2"), "K/uL").value == 4.2
    assert parse_count(Fraction(21, 5), "K/uL").value == 4.2
    for value in (Decimal("sNaN"), Decimal("1e999"), Fraction(10**400, 3), Decimal("-1")):
        with pytest.raises(ParseError):
            parse_count(value, "K/uL")  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**500), max_value=10**500),
        st.decimals(allow_nan=True, allow_infinity=True),
    ),
    st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["K/uL", "/uL", "10^12/L"])),
)
def test_nothing_but_a_cbc_error_escapes(value: object, unit: str | None) -> None:
    try:
        result = parse_count(value, unit)  # type: ignore[arg-type]
    except CBCError as error:
        assert len(str(error)) < 400  # a short message, whatever the input
    else:
        assert math.isfinite(result.value) and math.copysign(1.0, result.value) == 1.0
        json.loads(result.model_dump_json(), parse_constant=_refuse)


def _refuse(constant: str) -> object:
    raise AssertionError(f"{constant} in JSON output")


# ---------------------------------------------------------------- bounded caches


def test_the_unit_cache_is_bounded_against_junk() -> None:
    for index in range(units_module._READINGS_LIMIT + 500):
        with contextlib.suppress(UnitError):
            read_unit(f"junk{index}/q")
    assert len(units_module._READINGS) <= units_module._READINGS_LIMIT
    long_text = "K/uL" + " " * (units_module._CACHED_CHARS + 1)
    read_unit(long_text)
    assert long_text not in units_module._READINGS  # long keys are never kept


def test_a_cached_unit_error_holds_no_traceback() -> None:
    with pytest.raises(UnitError):
        read_unit("furlongs/fortnight/q")
    cached = units_module._READINGS["furlongs/fortnight/q"]
    assert isinstance(cached, UnitError) and cached.__traceback__ is None


# ---------------------------------------------------------------- the stress harness


def _stress() -> Any:
    spec = importlib.util.spec_from_file_location("stress", ROOT / "benchmarks" / "stress.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stress"] = module
    spec.loader.exec_module(module)
    return module


def test_the_stress_harness_catches_each_kind_of_offender() -> None:
    from cbc_ranges.models import Count, construct_checked

    stress = _stress()

    def infinite(*args: object, **kwargs: object) -> Count:
        fields = {"value": math.inf, "comparator": None, "unit_text": "", "unit": None}
        return construct_checked(Count, {**fields, "raw": "", "warnings": []})

    def untyped(*args: object, **kwargs: object) -> None:
        raise ValueError("could not convert string to float")

    def slow(*args: object, **kwargs: object) -> None:
        time.sleep(0.06)
        raise ParseError("slow")

    calls = {"parse_count": infinite, "interpret": untyped, "from_fhir": slow}
    report = stress.run(16, seed=1, calls=calls)
    assert all(report.calls.values()), report.calls
    assert report.kinds("parse_count") == {"non_finite": report.calls["parse_count"]}
    assert report.kinds("interpret") == {"untyped_error": report.calls["interpret"]}
    assert report.kinds("from_fhir") == {"slow_call": report.calls["from_fhir"]}
    assert "ValueError: 'could not convert" in report.text()


@pytest.fixture(scope="module")
def stress_report() -> Any:
    stress = _stress()
    return stress.run(stress.PROFILES["ci"], seed=0)


def test_the_ci_stress_profile_ran_every_call(stress_report: Any) -> None:
    assert stress_report.inputs == 5_000
    assert all(calls > 500 for calls in stress_report.calls.values())


def test_stress_parse_count_has_no_offenders(stress_report: Any) -> None:
    assert stress_report.kinds("parse_count") == {}, stress_report.text()


def test_stress_interpret_has_no_offenders(stress_report: Any) -> None:
    assert stress_report.kinds("interpret") == {}, stress_report.text()


def test_stress_from_fhir_has_no_offenders(stress_report: Any) -> None:
    assert stress_report.kinds("from_fhir") == {}, stress_report.text()
