"""Stress: generated and adversarial inputs through parse_count, interpret and from_fhir.

Run from the repository root, in the project's environment:

    python benchmarks/stress.py                 # 100,000 inputs
    python benchmarks/stress.py --profile ci    # 5,000 inputs (what the test suite runs)
    python benchmarks/stress.py --inputs 20000 --seed 3

Every input goes through one of the three public calls (half to ``parse_count``, a
quarter each to ``interpret`` and ``from_fhir``), and each call is checked against what
the library promises (docs/reliability.md):

- **untyped error**: anything raised that is not a ``CBCError``, except a ``TypeError``
  for an argument of the wrong Python type whose message names the parameter;
- **slow call**: a call over 50 ms (timed with the garbage collector paused; a slow call
  is run twice more and counts only if every run is slow, so a scheduler hiccup is not
  an offender);
- **non-finite**: a result with a float that is not finite (the value, the limits, the
  age), a ``-0.0`` count, or output that is not valid JSON (``model_dump_json()`` and, for
  an interpretation, ``to_fhir()``) or holds ``Infinity``/``NaN``.

The inputs: lab values in every known unit spelling, the spellings mutated (characters
dropped, doubled, swapped for random unicode, digits of other scripts), random unicode
with control characters, huge and tiny numbers as text and as Python numbers, repeated
patterns (``"leuk" * N``, ``"10^" * N``, brackets, spaces) up to ~100k characters, odd
Python types, people with junk ages and sexes, and FHIR Observations and Bundles as dicts
and JSON text with missing, junk, deeply nested and huge fields. All from one seeded
``random.Random``: the same seed gives the same inputs.

It prints the counts and the first few offenders of each kind (reprs cut short), and
exits non-zero when any count is non-zero. ``run()`` is importable:
tests/test_reliability_parse.py runs the ``ci`` profile.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from cbc_ranges import CBCError

PROFILES = {"full": 100_000, "ci": 5_000}
TARGETS = ("parse_count", "interpret", "from_fhir")
KINDS = ("untyped_error", "slow_call", "non_finite")
SLOW_MS = 50.0
SHOWN = 5  # offenders printed per target and kind
LONGEST = 100_000  # characters of the longest generated text

# parameters each call takes, and the Python types each accepts (anything else is a
# TypeError that must name the parameter)
_TEXT = (str,)
_OPTIONAL_TEXT = (str, type(None))
_NUMBER = (int, float, Fraction, Decimal)  # parse_count reads any real number
_YEARS = (int, float)  # the signatures of interpret and from_fhir
_ACCEPTED: dict[str, dict[str, tuple[type, ...]]] = {
    "parse_count": {"value": (*_TEXT, *_NUMBER), "unit": _OPTIONAL_TEXT},
    "interpret": {
        "value": (*_TEXT, *_NUMBER),
        "unit": _OPTIONAL_TEXT,
        "age": (*_OPTIONAL_TEXT, *_YEARS),
        "sex": _OPTIONAL_TEXT,
        "ethnicity": _OPTIONAL_TEXT,
    },
    "from_fhir": {
        "observation": (object,),
        "age": (*_OPTIONAL_TEXT, *_YEARS),
        "sex": _OPTIONAL_TEXT,
        "ethnicity": _OPTIONAL_TEXT,
    },
}


# ---------------------------------------------------------------- the report


@dataclass
class Offender:
    target: str
    kind: str
    arguments: str
    detail: str


@dataclass
class StressReport:
    inputs: int
    seed: int
    seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGETS, 0))
    offenders: dict[tuple[str, str], list[Offender]] = field(default_factory=dict)
    slowest_ms: float = 0.0
    slowest: str = ""

    def count(self, target: str | None = None, kind: str | None = None) -> int:
        return sum(
            len(found)
            for (t, k), found in self.offenders.items()
            if target in (None, t) and kind in (None, k)
        )

    def add(self, offender: Offender) -> None:
        self.offenders.setdefault((offender.target, offender.kind), []).append(offender)

    def kinds(self, target: str) -> dict[str, int]:
        """Offender counts of one target, by kind, only the non-zero ones."""
        return {k: n for k in KINDS if (n := self.count(target, k))}

    def text(self) -> str:
        lines = [
            f"{self.inputs} inputs (seed {self.seed}) in {self.seconds:.1f} s; "
            f"calls: " + ", ".join(f"{t} {n}" for t, n in self.calls.items()),
            f"slowest call: {self.slowest_ms:.2f} ms ({self.slowest})",
            "",
            "| target | " + " | ".join(KINDS) + " |",
            "| --- | " + " | ".join("---" for _ in KINDS) + " |",
        ]
        for target in TARGETS:
            counts = " | ".join(str(self.count(target, kind)) for kind in KINDS)
            lines.append(f"| {target} | {counts} |")
        for (target, kind), found in sorted(self.offenders.items()):
            lines += ["", f"{target}, {kind}: {len(found)}, the first {min(SHOWN, len(found))}:"]
            lines += [f"  {o.arguments}\n    -> {o.detail}" for o in found[:SHOWN]]
        return "\n".join(lines)


def short(value: object, limit: int = 120) -> str:
    """A repr cut to ``limit`` characters (a 100k-character input is no report line)."""
    try:
        text = repr(value)
    except Exception as error:  # an int of 10^5000 digits has no repr under Python's limit
        text = f"<{type(value).__name__}: no repr, {type(error).__name__}>"
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text)} chars)"
    return text


# ---------------------------------------------------------------- the inputs


def _spellings() -> list[str]:
    from cbc_ranges.units import unit_spellings

    return [row.spelling for row in unit_spellings()]


_DIGIT_ZEROS = (0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xE50, 0xFF10, 0x1D7CE)
_ODD_CHARS = "\x00\x01\x07\x08\t\n\r\x0b\x0c\x1b\x7f\x85\xa0\u200b\u200e\u202e\u2028\ufeff\ufffd"
_LAB_BITS = (
    "<", ">", "<=", "≥", "-", "−", "+", ".", ",", "'", " ", "e", "E", "x", "×", "10", "^", "*",
    "**", "(", ")", "/", "µ", "μ", "Âµ", "³", "⁹", "⁻", "%", "L", "H", "*", "!", "K", "G", "per ",
    "cells", "{", "}", "[", "]", "#", "nan", "inf",
)  # fmt: skip
_REPEATED = (
    "leuk", "10^", "10^9", "x10^9/L", "(", ")", "((", "{", "[{", "1,", "1.", ",", ".", " ",
    "per ", "e", "1e", "9", "<", "⁹", "Âµ", "µ", "cells", "k", "/", "10*3", "١", "4٥",
    " 000", "'000", "\u202f", "\x00",
)  # fmt: skip
_AGES = (
    "6 months", "40", "40 years", "3 weeks", "10 days", "1y 6m", "P40Y", "0", "-3 years", "",
    "1e400", "99999 years", "nan", "inf", "40 yrs", "forty", "٤٠", "4٠ years", "18+",
)  # fmt: skip
_SEXES = ("female", "male", "F", "M", "f", "m", "unknown", "other", "", "x", "FEMALE", "mâle")
_ETHNICITIES = ("Black", "African", "Duffy-null", "white", "Asian", "", "unknown", "any")
_DATES = (
    "2020-01-15", "2020", "2020-02", "2020-02-30", "2020-13-01", "0000-01-01", "9999-12-31",
    "2020-01-15T10:00:00Z", "2020-01-15T25:61:00+99:00", "1800-01-01", "2100-01-01", "abc",
    "", "２０２０-01-01", "2020-01-15T10:00:00.123456789Z", "-2020-01-01", "20200115",
)  # fmt: skip


class Inputs:
    """One seeded random source of values, units, people and FHIR resources."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.spellings = _spellings()

    # -- text

    def unicode_text(self, longest: int = 40) -> str:
        rng = self.rng
        out = []
        for _ in range(rng.randint(0, longest)):
            pick = rng.random()
            if pick < 0.4:
                out.append(chr(rng.randint(0x20, 0x7E)))
            elif pick < 0.55:
                out.append(rng.choice(_ODD_CHARS))
            elif pick < 0.7:
                out.append(rng.choice(_LAB_BITS))
            elif pick < 0.8:
                out.append(chr(rng.choice(_DIGIT_ZEROS) + rng.randint(0, 9)))
            elif pick < 0.82:
                out.append(chr(rng.randint(0xD800, 0xDFFF)))  # a lone surrogate
            else:
                out.append(chr(rng.randint(0xA0, 0x2FFFF)))
        return "".join(out)

    def repeated(self) -> str:
        rng = self.rng
        piece = rng.choice(_REPEATED)
        times = rng.choice((10, 100, 1_000, 5_000, LONGEST // max(1, len(piece))))
        head = rng.choice(("", "4.2 ", "1", "<", "4.2", " "))
        tail = rng.choice(("", "x", "/L", " K/uL", "!", "\x00", "1"))
        return (head + piece * times + tail)[: LONGEST + 10]

    def mutated(self, text: str) -> str:
        rng = self.rng
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            where = rng.randint(0, len(chars))
            action = rng.random()
            if action < 0.3 and chars:
                del chars[min(where, len(chars) - 1)]
            elif action < 0.5 and chars:
                chars.insert(where, chars[min(where, len(chars) - 1)])
            elif action < 0.7:
                chars.insert(where, rng.choice(_LAB_BITS))
            elif action < 0.85:
                chars.insert(where, self.unicode_text(3))
            elif chars:
                chars[min(where, len(chars) - 1)] = chr(
                    rng.choice(_DIGIT_ZEROS) + rng.randint(0, 9)
                )
        text = "".join(chars)
        return text.upper() if rng.random() < 0.1 else text

    def number_text(self) -> str:
        rng = self.rng
        pick = rng.random()
        if pick < 0.5:
            return rng.choice(
                (f"{rng.uniform(0, 20):.1f}", f"{rng.uniform(1000, 20000):.0f}", "4,200", "4.200",
                 "4 200", "4'200", "1.234,5", "0,25", ".5", "4.2E3", "0.00001e1", "7.4", "12,500")
            )  # fmt: skip
        if pick < 0.7:
            return rng.choice(("", "<", ">=", "≤ ", "- ", "−", "+")) + repr(rng.uniform(0, 1e4))
        if pick < 0.85:
            return rng.choice(
                ("9" * rng.randint(1, 400), f"1e{rng.randint(-999, 999)}", "1e300", "1e308",
                 "1.7976931348623157e308", "5e-324", "-0", "-0.0", "0e999", "nan", "inf",
                 "-inf", "Infinity", "1_000", "0x10", "１２", "4٥", "٤٥", "४.२", "4.2.1")
            )  # fmt: skip
        return self.mutated(rng.choice(("4.2", "4,200", "<1.0", "12.5", "3800")))

    # -- arguments

    def value(self) -> object:
        rng = self.rng
        pick = rng.random()
        if pick < 0.35:
            return self.number_text() + rng.choice(("", " ", " " + rng.choice(self.spellings)))
        if pick < 0.5:
            return self.number_text() + " " + self.mutated(rng.choice(self.spellings))
        if pick < 0.62:
            return self.unicode_text()
        if pick < 0.67:
            return self.repeated()
        if pick < 0.87:
            return rng.choice(
                (4.2, 0, -0.0, 1e308, 5e-324, float("nan"), float("inf"), -1.0, 10**400, 10**20,
                 2**1023, Fraction(1, 3), Fraction(10**400, 3), Decimal("4.2"), Decimal("1e999"),
                 Decimal("sNaN"), Decimal("-0"), rng.uniform(0, 1e6), rng.randint(0, 10**6))
            )  # fmt: skip
        return self.odd_object()

    def unit(self) -> object:
        rng = self.rng
        pick = rng.random()
        if pick < 0.3:
            return None
        if pick < 0.5:
            return rng.choice(self.spellings)
        if pick < 0.75:
            return self.mutated(rng.choice(self.spellings))
        if pick < 0.85:
            return self.unicode_text(20)
        if pick < 0.9:
            return self.repeated()
        if pick < 0.95:
            return rng.choice(
                ("9^9^9^9", "10^3 10^3/uL", "10^99/L", "10^19/L", "10^1/nL", "10^߂/L", "mg/dL",
                 "%", "(" * 50 + "L" + ")" * 50, "1e999/L", "10**10**10/L", "10^-9/L", "")
            )  # fmt: skip
        return self.odd_object()

    def odd_object(self) -> object:
        rng = self.rng
        return rng.choice(
            (None, True, False, [], [4.2], {}, {"value": 4.2}, b"4.2", bytearray(b"4"),
             object(), complex(1, 2), (4.2,), {4.2}, range(3), Ellipsis, type, print)
        )  # fmt: skip

    def age(self) -> object:
        rng = self.rng
        pick = rng.random()
        if pick < 0.2:
            return None
        if pick < 0.45:
            return rng.choice((40, 0, 2.5, -1, 1e308, float("nan"), float("inf"), -0.0, 10**400,
                               150, 0.01, Fraction(1, 2), Decimal("40")))  # fmt: skip
        if pick < 0.75:
            return rng.choice(_AGES)
        if pick < 0.9:
            return self.mutated(rng.choice(_AGES)) if rng.random() < 0.7 else self.unicode_text()
        if pick < 0.95:
            return rng.choice(("1 year " * 5000, "9" * 5000 + " years", "P" + "1Y" * 10000))
        return self.odd_object()

    def word(self, choices: tuple[str, ...]) -> object:
        rng = self.rng
        pick = rng.random()
        if pick < 0.3:
            return None
        if pick < 0.7:
            return rng.choice(choices)
        if pick < 0.85:
            return self.mutated(rng.choice(choices))
        if pick < 0.9:
            return self.repeated()
        if pick < 0.95:
            return self.unicode_text()
        return self.odd_object()

    # -- FHIR

    def nested(self) -> object:
        depth = self.rng.choice((50, 1_000, 20_000))
        inner: object = 4.2
        for level in range(depth):
            inner = [inner] if level % 2 else {"a": inner}
        return inner

    def junk(self) -> object:
        rng = self.rng
        pick = rng.random()
        if pick < 0.2:
            return self.nested()
        if pick < 0.5:
            return self.odd_object()
        if pick < 0.7:
            return self.unicode_text()
        return rng.choice((None, 10**400, 1e308, float("nan"), -1, "", [], {}, True, "x" * 10_000))

    def observation(self) -> dict[str, Any]:
        rng = self.rng
        quantity: dict[str, Any] = {
            "value": rng.choice((4.2, 3800, 0, 12.5, 1e308, -1, 10**400, float("inf"), "4.2")),
            "unit": rng.choice(self.spellings),
            "system": rng.choice(("http://unitsofmeasure.org", "http://example.org", None)),
            "code": rng.choice(("10*9/L", "10*3/uL", "/uL", "/mm3", "K/uL", "mg/dL", "10*99/L")),
        }
        if rng.random() < 0.2:
            quantity["comparator"] = rng.choice(("<", ">=", "~", "ad", None, 5))
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
            "valueQuantity": quantity,
            "subject": {"reference": "Patient/p"},
            "effectiveDateTime": rng.choice(_DATES),
        }
        if rng.random() < 0.15:
            del observation["valueQuantity"]
            key, item = rng.choice(
                (("valueString", self.value()), ("valueInteger", rng.choice((4200, 10**400, -1))),
                 ("dataAbsentReason", {"text": "not done"}))
            )  # fmt: skip
            observation[key] = item
        return observation

    def fhir(self) -> object:
        rng = self.rng
        resource: dict[str, Any] = self.observation()
        for _ in range(rng.choice((0, 0, 1, 2, 4))):  # junk in a random place
            target = resource
            path = rng.choice(
                (("valueQuantity", "value"), ("valueQuantity", "unit"), ("valueQuantity", "code"),
                 ("valueQuantity",), ("code",), ("code", "coding"), ("effectiveDateTime",),
                 ("issued",), ("effectivePeriod",), ("subject",), ("resourceType",), ("status",))
            )  # fmt: skip
            for key in path[:-1]:
                child = target.get(key)
                if not isinstance(child, dict):
                    break
                target = child
            else:
                target[path[-1]] = self.junk() if rng.random() < 0.7 else self.value()
        if rng.random() < 0.35:
            patient = {
                "resourceType": "Patient",
                "id": "p",
                "gender": rng.choice(("female", "male", "other", "unknown", 5, None, "F")),
                "birthDate": rng.choice(_DATES) if rng.random() < 0.85 else self.junk(),
            }
            entries: list[object] = [{"resource": patient}, {"resource": resource}]
            if rng.random() < 0.1:
                entries.append(self.junk())
            resource = {"resourceType": "Bundle", "type": "collection", "entry": entries}
        pick = rng.random()
        if pick < 0.6:
            return resource
        if pick < 0.85:
            try:
                text = json.dumps(resource)
            except (TypeError, ValueError, RecursionError):
                return resource
            return self.mutated(text) if rng.random() < 0.3 else text
        return rng.choice(
            ("[" * 100_000, '{"a":' * 50_000, "{" + '"x": 1,' * 20_000 + "}",
             '{"resourceType": "Observation", "valueQuantity": {"value": ' + "9" * 5000 + "}}",
             '{"resourceType": "Observation", "valueQuantity": {"value": NaN}}',
             '{"resourceType": "Observation", "valueQuantity": {"value": 1e400}}',
             "", "null", "[]", "4.2", b"{}", self.unicode_text(), self.repeated())
        )  # fmt: skip

    # -- one call

    def case(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        pick = self.rng.random()
        if pick < 0.5:
            return "parse_count", (self.value(), self.unit()), {}
        if pick < 0.75:
            return (
                "interpret",
                (self.value(), self.unit()),
                {
                    "age": self.age(),
                    "sex": self.word(_SEXES),
                    "ethnicity": self.word(_ETHNICITIES),
                },
            )
        people: dict[str, object] = {}
        if self.rng.random() < 0.3:
            people = {"age": self.age(), "sex": self.word(_SEXES)}
        return "from_fhir", (self.fhir(),), people


# ---------------------------------------------------------------- the checks


def _named_arguments(
    target: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> dict[str, object]:
    names = list(_ACCEPTED[target])
    return {**dict(zip(names, args, strict=False)), **kwargs}


def _wrong_types(arguments: dict[str, object], target: str) -> list[str]:
    """The parameters given a value of a type the call does not take."""
    accepted = _ACCEPTED[target]
    return [
        name
        for name, value in arguments.items()
        if (isinstance(value, bool) and name != "observation")
        or not isinstance(value, accepted[name])
    ]


def _typed(error: Exception, wrong: list[str]) -> bool:
    """Whether ``error`` is one the library promises: a CBCError, or a TypeError naming a
    parameter that was given the wrong type."""
    if isinstance(error, CBCError):
        return True
    if type(error) is TypeError and wrong:
        message = str(error)
        return any(re.search(rf"\b{name}\b", message) for name in wrong)
    return False


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def _floats(value: object, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _floats(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _floats(item, f"{path}[{index}]")


def _output_problem(result: object) -> str | None:
    """What is wrong with a result's numbers or output, or None."""
    try:
        dumped = result.model_dump()  # type: ignore[attr-defined]
        for path, number in _floats(dumped):
            if not math.isfinite(number):
                return f"{path} is {number!r}"
        value = dumped["value"] if "value" in dumped else dumped["count"]["value"]
        if math.copysign(1.0, value) < 0:
            return f"the count is {value!r}"
        _strict_json(result.model_dump_json())  # type: ignore[attr-defined]
        if hasattr(result, "to_fhir"):
            json.dumps(result.to_fhir(), allow_nan=False)
    except Exception as error:
        return f"output failed: {type(error).__name__}: {short(str(error), 200)}"
    return None


def _calls() -> dict[str, Callable[..., Any]]:
    from cbc_ranges.count import parse_count
    from cbc_ranges.fhir import from_fhir
    from cbc_ranges.interpretation import interpret

    return {"parse_count": parse_count, "interpret": interpret, "from_fhir": from_fhir}


def _timed(
    call: Callable[..., Any], args: tuple[object, ...], kwargs: dict[str, object]
) -> tuple[float, object, Exception | None]:
    started = time.perf_counter()
    try:
        result, error = call(*args, **kwargs), None
    except Exception as raised:
        result, error = None, raised
    return (time.perf_counter() - started) * 1000, result, error


def _warm_up(calls: dict[str, Callable[..., Any]]) -> None:
    """Load the range tables, the unit tables and the FHIR module before timing starts."""
    observation = Inputs(0).observation()
    for target, call, args, kwargs in (
        ("parse_count", calls["parse_count"], ("4.2", "K/uL"), {}),
        ("parse_count", calls["parse_count"], ("4.2", "mg/dL"), {}),
        ("parse_count", calls["parse_count"], ("4.2", "K/ul?"), {}),
        ("interpret", calls["interpret"], ("4.2", "K/uL"), {"age": "6 months", "sex": "f"}),
        ("from_fhir", calls["from_fhir"], (observation,), {}),
        ("from_fhir", calls["from_fhir"], (json.dumps(observation),), {"age": 40}),
    ):
        with contextlib.suppress(Exception):  # the run itself reports what goes wrong
            call(*args, **kwargs)
        del target


def run(
    inputs: int = PROFILES["full"],
    seed: int = 0,
    *,
    slow_ms: float = SLOW_MS,
    progress: Callable[[int], None] | None = None,
    calls: dict[str, Callable[..., Any]] | None = None,
) -> StressReport:
    """Run ``inputs`` generated calls and return what went wrong.

    ``calls`` replaces the three library calls (the tests check the checks with broken ones).
    """
    calls = calls or _calls()
    _warm_up(calls)
    source = Inputs(seed)
    report = StressReport(inputs=inputs, seed=seed)
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    started = time.perf_counter()
    try:
        for index in range(inputs):
            if index % 2_000 == 0:
                gc.collect()  # outside the timed calls
                if progress is not None and index:
                    progress(index)
            target, args, kwargs = source.case()
            call = calls[target]
            report.calls[target] += 1
            elapsed, result, error = _timed(call, args, kwargs)
            shown = (
                f"{target}("
                + ", ".join(
                    [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
                )
                + ")"
            )
            if elapsed > slow_ms:
                elapsed = min(elapsed, *(_timed(call, args, kwargs)[0] for _ in range(2)))
                if elapsed > slow_ms:
                    report.add(Offender(target, "slow_call", shown, f"{elapsed:.1f} ms"))
            if elapsed > report.slowest_ms:
                report.slowest_ms, report.slowest = elapsed, short(shown, 160)
            if error is not None:
                wrong = _wrong_types(_named_arguments(target, args, kwargs), target)
                if not _typed(error, wrong):
                    detail = f"{type(error).__name__}: {short(str(error), 200)}"
                    report.add(Offender(target, "untyped_error", shown, detail))
            else:
                problem = _output_problem(result)
                if problem is not None:
                    report.add(Offender(target, "non_finite", shown, problem))
    finally:
        report.seconds = time.perf_counter() - started
        if collecting:
            gc.enable()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=None, help="how many (default 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    options = parser.parse_args(argv)
    inputs = options.inputs if options.inputs is not None else PROFILES[options.profile]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))

    def progress(done: int) -> None:
        if done % 20_000 == 0:
            print(f"  {done} inputs...", file=sys.stderr, flush=True)

    report = run(inputs, options.seed, progress=progress)
    print(report.text())
    return 1 if report.count() else 0


if __name__ == "__main__":
    sys.exit(main())
