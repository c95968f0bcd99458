"""FHIR R4 out: an Interpretation as a WBC count ``Observation`` (a plain dict).

FHIR (Fast Healthcare Interoperability Resources) is the HL7 standard most
electronic health records speak. A white blood cell count is an
``Observation`` coded with LOINC 6690-2, its value a ``Quantity`` in UCUM
units. This is the ``fhir`` output format (``render("fhir", result)``, also
``Interpretation.to_fhir()``); reading FHIR back is
:func:`cbc_ranges.fhir.from_fhir`.

What goes out (see ``docs/embedding.md`` for a full example):

- ``status`` ``final``, ``category`` laboratory, ``code`` LOINC 6690-2;
- ``valueQuantity`` in UCUM ``10*9/L``, with ``comparator`` for a censored
  result such as ``<1.0``; decimals are written with 12 significant digits,
  which drops binary float noise (``3.8000000000000003`` is written ``3.8``);
- ``referenceRange``: the reference interval (``type`` normal range) with
  ``low``/``high`` in ``10*9/L``, ``age`` in UCUM years (``a``) when the row
  has an age band (our upper age is exclusive: a row for ages 0 to 18 covers
  everyone under 18), ``appliesTo`` naming the sex or ethnicity it is for,
  and ``text`` naming the population and the source; then, when one applied,
  the adult leukopenia threshold as a second entry with only ``low``;
- ``interpretation`` coded L, N or H in HL7 v3 ObservationInterpretation,
  left out when the flag is indeterminate (never a guessed "normal");
- ``note``: the educational text, then one note per warning.

The result is always strict JSON: a number JSON cannot hold is never written.
A count that is not finite (only a hand-built result can hold one) goes out as
``dataAbsentReason`` ``not-a-number``, ``positive-infinity`` or
``negative-infinity`` instead of a ``valueQuantity``; a limit or an age bound
that is not finite is left out, as "no limit".

>>> from cbc_ranges.models import Count, Interpretation, Person
>>> result = Interpretation(
...     count=Count(value=4.2, unit="10*9/L"), person=Person(), flag="indeterminate",
...     code=None, leukopenia=None, text="No range applies. This is not a diagnosis.")
>>> observation = interpretation_to_fhir(result)
>>> observation["code"]["coding"][0]["code"], observation["valueQuantity"]["code"]
('6690-2', '10*9/L')
>>> "interpretation" in observation
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation, ReferenceRange

__all__ = [
    "ACCEPTED_LOINC_CODES",
    "DATA_ABSENT_REASON_SYSTEM",
    "LOINC_SYSTEM",
    "OBSERVATION_INTERPRETATION_SYSTEM",
    "UCUM_SYSTEM",
    "interpretation_to_fhir",
    "render",
]

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
OBSERVATION_INTERPRETATION_SYSTEM = (
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
)
DATA_ABSENT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
_REFERENCE_RANGE_MEANING_SYSTEM = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"

#: LOINC codes read as a WBC count: the automated count and the method-less one.
ACCEPTED_LOINC_CODES: Mapping[str, str] = {
    "6690-2": "Leukocytes [#/volume] in Blood by Automated count",
    "26464-8": "Leukocytes [#/volume] in Blood",
}
_OUT_CODE = "6690-2"
_OUT_UNIT = "10*9/L"

_INTERPRETATION_DISPLAY = {"L": "Low", "N": "Normal", "H": "High"}


def _decimal(value: float) -> float:
    # 12 significant digits: drops float noise (3.8000000000000003) and keeps any real precision
    return float(f"{value:.12g}")


def _finite(value: float | None) -> float | None:
    # strict JSON has no NaN or infinity: a limit that is not finite is no limit
    return value if value is not None and math.isfinite(value) else None


def _quantity(value: float, unit: str = _OUT_UNIT) -> dict[str, Any]:
    return {"value": _decimal(value), "unit": unit, "system": UCUM_SYSTEM, "code": unit}


def _years(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "a", "system": UCUM_SYSTEM, "code": "a"}


def _number(value: float) -> str:
    # at least one decimal, at most three, as the range tables print them
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _age_number(value: float) -> str:
    return f"{value:g}"


def _population_words(reference: ReferenceRange) -> str:
    """'adult females (age 18 and over)'-style words for a range's population."""
    population = reference.population
    if population.description:
        return population.description
    parts: list[str] = []
    if population.ethnicity != "any":
        parts.append(f"{population.ethnicity} ancestry")
    if population.sex in ("female", "male"):
        parts.append(population.sex)
    elif population.sex == "unknown":
        parts.append("sex not given")
    low, high = _finite(population.age_from), _finite(population.age_to)
    if low is not None and high is not None:
        parts.append(f"age {_age_number(low)} to under {_age_number(high)} years")
    elif low is not None and low > 0:
        parts.append(f"age {_age_number(low)} years and over")
    elif high is not None:
        parts.append(f"age under {_age_number(high)} years")
    return ", ".join(parts) if parts else "everyone"


def _source_words(reference: ReferenceRange) -> str:
    source = reference.source
    details = ", ".join(part for part in (source.publisher, source.date) if part)
    return f'"{source.title}"' + (f" ({details})" if details else "")


def _limits_words(reference: ReferenceRange) -> str:
    low, high = _finite(reference.low), _finite(reference.high)
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)} × 10⁹/L"
    if low is not None:
        return f"below {_number(low)} × 10⁹/L"
    if high is not None:
        return f"above {_number(high)} × 10⁹/L"
    return "no limits"


def _reference_range(reference: ReferenceRange) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    low, high = _finite(reference.low), _finite(reference.high)
    if low is not None:
        entry["low"] = _quantity(low)
    if high is not None:
        entry["high"] = _quantity(high)
    if reference.kind == "reference_interval":
        entry["type"] = {
            "coding": [
                {
                    "system": _REFERENCE_RANGE_MEANING_SYSTEM,
                    "code": "normal",
                    "display": "Normal Range",
                }
            ],
            "text": "Reference interval",
        }
        what = "Reference interval"
    else:
        entry["type"] = {"text": "Leukopenia threshold"}
        what = "Leukopenia threshold (a count below the low limit)"
    population = reference.population
    applies_to = [
        {"text": text}
        for text in (
            population.sex if population.sex in ("female", "male") else None,
            f"{population.ethnicity} ancestry" if population.ethnicity != "any" else None,
        )
        if text
    ]
    if applies_to:
        entry["appliesTo"] = applies_to
    age: dict[str, Any] = {}
    age_from, age_to = _finite(population.age_from), _finite(population.age_to)
    if age_from is not None:
        age["low"] = _years(age_from)
    if age_to is not None:
        age["high"] = _years(age_to)
    if age:
        entry["age"] = age
    entry["text"] = (
        f"{what} for {_population_words(reference)}: {_limits_words(reference)}. "
        f"Source: {_source_words(reference)}."
    )
    return entry


def _code(interp: Interpretation) -> dict[str, Any]:
    """The Observation's code: the analyte's LOINC code for a count or a percentage."""
    from cbc_ranges.analytes import get_analyte

    analyte = get_analyte(interp.analyte)
    kind: Literal["count", "percent"] = "percent" if interp.count.unit == "%" else "count"
    found = analyte.loinc_for(kind)
    text = analyte.label if kind == "count" else f"{analyte.label} (% of white cells)"
    if found is None:
        return {"text": text}
    code, display = found
    return {"coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}], "text": text}


def interpretation_to_fhir(interp: Interpretation) -> dict[str, Any]:
    """An interpretation as a FHIR R4 ``Observation`` (a plain, JSON-ready dict).

    The value is always written in UCUM ``10*9/L``; a censored result keeps its
    comparator. The HL7 interpretation code is left out when the flag is
    indeterminate.

    >>> from cbc_ranges.models import Count, Interpretation, Person
    >>> result = Interpretation(
    ...     count=Count(value=1.0, comparator="<", unit="10*9/L"), person=Person(),
    ...     flag="low", code="L", leukopenia=True, text="Below the range; not a diagnosis.")
    >>> observation = interpretation_to_fhir(result)
    >>> observation["valueQuantity"]["comparator"], observation["valueQuantity"]["value"]
    ('<', 1.0)
    >>> observation["interpretation"][0]["coding"][0]["code"]
    'L'
    """
    count = interp.count
    value: dict[str, Any]
    if math.isfinite(count.value):
        quantity: dict[str, Any] = {"value": _decimal(count.value)}
        if count.comparator is not None:
            quantity["comparator"] = count.comparator
        unit = "%" if count.unit == "%" else _OUT_UNIT
        quantity.update(unit=unit, system=UCUM_SYSTEM, code=unit)
        value = {"valueQuantity": quantity}
    else:
        value = {"dataAbsentReason": _absent_reason(count.value)}

    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": _CATEGORY_SYSTEM, "code": "laboratory", "display": "Laboratory"}
                ],
                "text": "Laboratory",
            }
        ],
        "code": _code(interp),
        **value,
    }
    if interp.code is not None:
        observation["interpretation"] = [
            {
                "coding": [
                    {
                        "system": OBSERVATION_INTERPRETATION_SYSTEM,
                        "code": interp.code,
                        "display": _INTERPRETATION_DISPLAY[interp.code],
                    }
                ],
                "text": _INTERPRETATION_DISPLAY[interp.code],
            }
        ]
    ranges = [
        _reference_range(reference)
        for reference in (interp.reference, interp.leukopenia_threshold)
        if reference is not None
    ]
    if ranges:
        observation["referenceRange"] = ranges
    notes = [{"text": interp.text}] if interp.text else []
    notes.extend({"text": f"Warning: {warning}"} for warning in interp.warnings)
    if notes:
        observation["note"] = notes
    return observation


#: the ``fhir`` output format of :mod:`cbc_ranges.formats`
render = interpretation_to_fhir


def _absent_reason(value: float) -> dict[str, Any]:
    # the data-absent-reason codes FHIR has for exactly these values
    code, display = (
        ("not-a-number", "Not a Number (NaN)")
        if math.isnan(value)
        else ("positive-infinity", "Positive Infinity (PINF)")
        if value > 0
        else ("negative-infinity", "Negative Infinity (NINF)")
    )
    return {
        "coding": [{"system": DATA_ABSENT_REASON_SYSTEM, "code": code, "display": display}],
        "text": f"The count is not a finite number ({display}).",
    }
