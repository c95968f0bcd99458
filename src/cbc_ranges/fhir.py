"""FHIR R4 in and out: a WBC count as an ``Observation`` resource.

FHIR (Fast Healthcare Interoperability Resources) is the HL7 standard most
electronic health records speak. A white blood cell count is an
``Observation`` coded with LOINC 6690-2, its value a ``Quantity`` in UCUM
units. This module writes an :class:`~cbc_ranges.models.Interpretation` as
such an Observation (:func:`interpretation_to_fhir`, also reachable as
``Interpretation.to_fhir()``) and reads one back (:func:`from_fhir`), alone
or inside a ``Bundle`` that also holds the ``Patient``.

Resources are plain ``dict`` objects, exactly as ``json.loads`` gives them:
the library never imports a FHIR model library. ``from_fhir`` also takes a
JSON string, or any model object with a ``model_dump()`` method (such as a
``fhir.resources`` Observation).

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

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cbc_ranges.errors import FHIRError

if TYPE_CHECKING:
    from cbc_ranges.models import Count, Interpretation, ReferenceRange
    from cbc_ranges.ranges import RangeTable

__all__ = [
    "ACCEPTED_LOINC_CODES",
    "LOINC_SYSTEM",
    "OBSERVATION_INTERPRETATION_SYSTEM",
    "UCUM_SYSTEM",
    "from_fhir",
    "interpretation_to_fhir",
]

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
OBSERVATION_INTERPRETATION_SYSTEM = (
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
)
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

# observation statuses that carry no usable result
_REFUSED_STATUSES = {"entered-in-error", "cancelled"}
# statuses that are usable but not final: say so in the warnings
_PROVISIONAL_STATUSES = {"registered", "preliminary", "unknown"}

_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


# --------------------------------------------------------------------------- out


def _decimal(value: float) -> float:
    # 12 significant digits: drops float noise (3.8000000000000003) and keeps any real precision
    return float(f"{value:.12g}")


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
    low, high = population.age_from, population.age_to
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
    if reference.low is not None and reference.high is not None:
        return f"{_number(reference.low)} to {_number(reference.high)} × 10⁹/L"
    if reference.low is not None:
        return f"below {_number(reference.low)} × 10⁹/L"
    if reference.high is not None:
        return f"above {_number(reference.high)} × 10⁹/L"
    return "no limits"


def _reference_range(reference: ReferenceRange) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if reference.low is not None:
        entry["low"] = _quantity(reference.low)
    if reference.high is not None:
        entry["high"] = _quantity(reference.high)
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
    if population.age_from is not None:
        age["low"] = _years(population.age_from)
    if population.age_to is not None:
        age["high"] = _years(population.age_to)
    if age:
        entry["age"] = age
    entry["text"] = (
        f"{what} for {_population_words(reference)}: {_limits_words(reference)}. "
        f"Source: {_source_words(reference)}."
    )
    return entry


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
    value_quantity: dict[str, Any] = {"value": _decimal(count.value)}
    if count.comparator is not None:
        value_quantity["comparator"] = count.comparator
    value_quantity.update(unit=_OUT_UNIT, system=UCUM_SYSTEM, code=_OUT_UNIT)

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
        "code": {
            "coding": [
                {
                    "system": LOINC_SYSTEM,
                    "code": _OUT_CODE,
                    "display": ACCEPTED_LOINC_CODES[_OUT_CODE],
                }
            ],
            "text": "White blood cell count",
        },
        "valueQuantity": value_quantity,
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


# ---------------------------------------------------------------------------- in


def _as_resource(resource: object) -> dict[str, Any]:
    """A resource given as a dict, JSON text or a model object, as a plain dict."""
    if isinstance(resource, (str, bytes, bytearray)):
        try:
            loaded = json.loads(resource)
        except ValueError as error:
            raise FHIRError(f"not FHIR JSON: {error}", raw=resource) from None
        resource = loaded
    elif not isinstance(resource, Mapping):
        dump = getattr(resource, "model_dump", None)
        if not callable(dump):
            raise FHIRError(
                f"expected a FHIR resource (a dict, JSON text or a model with model_dump()), "
                f"got {type(resource).__name__}",
                raw=resource,
            )
        try:
            resource = dump(mode="json", by_alias=True, exclude_none=True)
        except TypeError:  # a model_dump() without pydantic's keywords
            resource = dump()
    if not isinstance(resource, Mapping):
        raise FHIRError(
            f"expected a FHIR resource object, got {type(resource).__name__}", raw=resource
        )
    return dict(resource)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return value
    return ()


def _check_code(observation: Mapping[str, Any]) -> None:
    codings = [_mapping(c) for c in _sequence(_mapping(observation.get("code")).get("coding"))]
    for coding in codings:
        code = coding.get("code")
        if (
            coding.get("system") == LOINC_SYSTEM
            and isinstance(code, str)
            and code in ACCEPTED_LOINC_CODES
        ):
            return
    seen = ", ".join(f"{c.get('system') or '(no system)'}|{c.get('code')}" for c in codings)
    accepted = " or ".join(f"{LOINC_SYSTEM}|{code}" for code in ACCEPTED_LOINC_CODES)
    raise FHIRError(
        f"the Observation is not a white blood cell count: its code is {seen or 'missing'}, "
        f"expected LOINC {accepted}",
        raw=observation.get("code"),
    )


def _value_text(value: object, comparator: object) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FHIRError(f"valueQuantity.value is not a number: {value!r}", raw=value)
    if comparator is None:
        return value
    if comparator not in ("<", "<=", ">", ">="):
        raise FHIRError(f"unknown valueQuantity.comparator {comparator!r}", raw=comparator)
    return f"{comparator}{value}"


def _read_count(observation: Mapping[str, Any]) -> Count:
    """The Observation's value, through the library's unit-aware parser."""
    from cbc_ranges.count import parse_count
    from cbc_ranges.errors import UnitError

    if "valueQuantity" in observation:
        quantity = _mapping(observation["valueQuantity"])
        if quantity.get("value") is None:
            raise FHIRError("valueQuantity has no value", raw=quantity)
        value = _value_text(quantity.get("value"), quantity.get("comparator"))
        code, unit = quantity.get("code"), quantity.get("unit")
        ucum = quantity.get("system") in (None, UCUM_SYSTEM)
        # the UCUM code first, then the unit text, then a code of a local system as a spelling
        candidates: list[str] = []
        for candidate in (code if ucum else None, unit, None if ucum else code):
            if isinstance(candidate, str) and candidate.strip() and candidate not in candidates:
                candidates.append(candidate)
        if not candidates:
            # no unit at all: the parser assumes 10^9/L when plausible and says so
            return parse_count(value, None, decimal_comma=False)
        first_error: UnitError | None = None
        for candidate in candidates:
            try:
                return parse_count(value, candidate, decimal_comma=False)
            except UnitError as error:
                first_error = first_error or error
        assert first_error is not None
        raise first_error
    if isinstance(observation.get("valueString"), str):
        return parse_count(observation["valueString"])
    if isinstance(observation.get("valueInteger"), int):
        return parse_count(observation["valueInteger"])
    absent = _mapping(observation.get("dataAbsentReason"))
    reason = absent.get("text") or next(
        (c.get("code") for c in map(_mapping, _sequence(absent.get("coding"))) if c.get("code")),
        None,
    )
    raise FHIRError(
        "the Observation has no value"
        + (f" (dataAbsentReason: {reason})" if reason else " (no valueQuantity)"),
        raw=observation.get("id"),
    )


def _fhir_date(text: object, field: str) -> tuple[dt.date, int]:
    """A FHIR date or dateTime as (date, precision: 1 year, 2 month, 3 day)."""
    match = _FHIR_DATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise FHIRError(f"{field} is not a FHIR date: {text!r}", raw=text)
    year, month, day = match.groups()
    try:
        return dt.date(int(year), int(month or 1), int(day or 1)), 3 - [month, day].count(None)
    except ValueError:
        raise FHIRError(f"{field} is not a valid date: {text!r}", raw=text) from None


def _effective_date(observation: Mapping[str, Any]) -> tuple[dt.date, int] | None:
    for field, text in (
        ("effectiveDateTime", observation.get("effectiveDateTime")),
        ("effectiveInstant", observation.get("effectiveInstant")),
        ("effectivePeriod.start", _mapping(observation.get("effectivePeriod")).get("start")),
        ("issued", observation.get("issued")),
    ):
        if text is not None:
            return _fhir_date(text, field)
    return None


def _last_day(year: int, month: int | None) -> dt.date:
    if month is None:
        return dt.date(year, 12, 31)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def _age_at(birth: dt.date, on: dt.date) -> float:
    """Age in years on a date: completed years plus the fraction of the current year.

    On a birthday the age is a whole number, so an 18th birthday gives exactly 18.

    >>> _age_at(dt.date(2008, 11, 22), dt.date(2026, 11, 22))
    18.0
    >>> round(_age_at(dt.date(2026, 5, 1), dt.date(2026, 11, 1)), 2)
    0.5
    """
    if on < birth:
        raise FHIRError(f"the observation date {on} is before the birth date {birth}")

    def birthday(year: int) -> dt.date:
        try:
            return birth.replace(year=year)
        except ValueError:  # 29 February in a common year
            return dt.date(year, 3, 1)

    years = on.year - birth.year - (on < birthday(on.year))
    last = birthday(birth.year + years)
    following = birthday(birth.year + years + 1)
    return years + (on - last).days / (following - last).days


def _patient_for(
    entries: Sequence[Mapping[str, Any]], observation: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    patients = [
        entry
        for entry in entries
        if _mapping(entry.get("resource")).get("resourceType") == "Patient"
    ]
    reference = _mapping(observation.get("subject")).get("reference")
    if isinstance(reference, str):
        for entry in patients:
            resource = _mapping(entry.get("resource"))
            if reference in (entry.get("fullUrl"), f"Patient/{resource.get('id')}"):
                return resource
    if len(patients) == 1:
        return _mapping(patients[0].get("resource"))
    if len(patients) > 1:
        raise FHIRError(
            f"the Bundle holds {len(patients)} Patients and the Observation's subject "
            f"({reference!r}) names none of them",
            raw=reference,
        )
    return None


def _ethnicity_of(patient: Mapping[str, Any]) -> str | None:
    """Free text from the US Core race or ethnicity extension, if there is one."""
    for suffix in ("us-core-race", "us-core-ethnicity"):
        for extension in map(_mapping, _sequence(patient.get("extension"))):
            if not str(extension.get("url", "")).endswith(suffix):
                continue
            parts = list(map(_mapping, _sequence(extension.get("extension"))))
            for part in parts:
                if part.get("url") == "text" and isinstance(part.get("valueString"), str):
                    return str(part["valueString"])
            for part in parts:
                display = _mapping(part.get("valueCoding")).get("display")
                if part.get("url") == "ombCategory" and isinstance(display, str):
                    return display
    return None


def from_fhir(
    observation: object,
    *,
    age: float | str | None = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    table: RangeTable | str | None = None,
) -> Interpretation:
    """Interpret a FHIR WBC count ``Observation``, or a ``Bundle`` holding one.

    The Observation must be coded LOINC 6690-2 or 26464-8 (anything else is a
    :class:`~cbc_ranges.errors.FHIRError`). Its ``valueQuantity`` goes through
    the library's parser: the UCUM ``code`` first (``10*9/L``, ``10*3/uL``,
    ``/uL``, ``/mm3``...), then the ``unit`` text; a bad unit raises
    :class:`~cbc_ranges.errors.UnitError`. ``valueString`` ("4.2 K/uL") is read
    too.

    In a Bundle the Patient named by the Observation's ``subject`` (or the only
    Patient) gives the sex (``gender``), the age (``birthDate`` against the
    Observation's ``effectiveDateTime``, ``effectiveInstant``,
    ``effectivePeriod.start`` or ``issued``, in completed years plus the
    fraction of the year) and the ethnicity (US Core race or ethnicity
    extension text). A date known only to the year or month gives the youngest
    age it allows, with a warning. Keyword arguments win over what the
    resources say.

    >>> observation = {
    ...     "resourceType": "Observation", "status": "final",
    ...     "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
    ...     "valueQuantity": {"value": 3.1, "unit": "10*3/uL",
    ...                       "system": "http://unitsofmeasure.org", "code": "10*3/uL"}}
    >>> result = from_fhir(observation, age=40, sex="female")
    >>> result.count.value, result.flag
    (3.1, 'low')
    """
    from cbc_ranges.interpretation import interpret_count

    resource = _as_resource(observation)
    warnings: list[str] = []
    patient: Mapping[str, Any] | None = None
    kind = resource.get("resourceType")
    if kind == "Bundle":
        entries = [_mapping(entry) for entry in _sequence(resource.get("entry"))]
        observations = [
            _mapping(entry.get("resource"))
            for entry in entries
            if _mapping(entry.get("resource")).get("resourceType") == "Observation"
        ]
        wbc = [obs for obs in observations if _is_wbc(obs)]
        if len(wbc) != 1:
            if not wbc and len(observations) == 1:
                _check_code(observations[0])  # raises, naming the code it found
            raise FHIRError(
                f"the Bundle holds {len(wbc)} white blood cell count Observations "
                f"(LOINC {' or '.join(ACCEPTED_LOINC_CODES)}); expected exactly one",
                raw=len(wbc),
            )
        resource = dict(wbc[0])
        patient = _patient_for(entries, resource)
    elif kind != "Observation":
        raise FHIRError(
            f"expected a FHIR Observation or Bundle, got resourceType {kind!r}", raw=kind
        )
    _check_code(resource)

    status = resource.get("status")
    if status is not None and not isinstance(status, str):
        raise FHIRError(f"the Observation's status is not a code: {status!r}", raw=status)
    if status in _REFUSED_STATUSES:
        raise FHIRError(f"the Observation's status is {status!r}: it holds no result", raw=status)
    if status in _PROVISIONAL_STATUSES:
        warnings.append(f"The FHIR Observation's status is {status!r}, not final.")

    count = _read_count(resource)

    if patient is not None:
        if sex is None and isinstance(patient.get("gender"), str):
            sex = patient["gender"]
        if ethnicity is None:
            ethnicity = _ethnicity_of(patient)
        if age is None and patient.get("birthDate") is not None:
            birth, precision = _fhir_date(patient["birthDate"], "Patient.birthDate")
            effective = _effective_date(resource)
            if effective is None:
                warnings.append(
                    "The Observation has no effective date, so the age could not be worked "
                    "out from the Patient's birth date."
                )
            else:
                if effective[1] < 3:
                    # a date of the year or month alone reads as its first day: the youngest age
                    warnings.append(
                        "The Observation's date gives only the "
                        + ("year" if effective[1] == 1 else "year and month")
                        + "; the age used is the youngest the person can have been."
                    )
                if precision < 3:
                    # only the year or month is known: count from its last day, the youngest
                    # the person can be, and say so
                    birth = min(
                        _last_day(birth.year, birth.month if precision == 2 else None),
                        effective[0],
                    )
                    warnings.append(
                        "The Patient's birth date gives only the "
                        + ("year" if precision == 1 else "year and month")
                        + "; the age used is the youngest it can be."
                    )
                age = _age_at(birth, effective[0])

    result = interpret_count(count, age=age, sex=sex, ethnicity=ethnicity, table=table)
    if warnings:
        result = result.model_copy(update={"warnings": [*result.warnings, *warnings]})
    return result


def _is_wbc(observation: Mapping[str, Any]) -> bool:
    try:
        _check_code(observation)
    except FHIRError:
        return False
    return True
