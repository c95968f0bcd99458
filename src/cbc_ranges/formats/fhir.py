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
- ``note``: the educational text, then one note per warning;
- ``meta.tag``: where the result came from, as codings of the library's own
  code systems (not HL7 ones; ``.invalid`` is a reserved domain, so they can
  never clash with a real system): :data:`LIBRARY_VERSION_SYSTEM` with the
  cbc-ranges version, and, when the result names its range table,
  :data:`RANGE_TABLE_SYSTEM` with the table's name and
  :data:`RANGE_TABLE_SHA256_SYSTEM` with the SHA-256 of the table file.

Options (keyword-only, also through ``render("fhir", result, ...)``):

- ``subject``: a reference (``"Patient/123"``), a ``Reference`` dict, or a FHIR
  ``Patient`` resource (a dict); with a Patient the result is a ``Bundle`` of
  type ``collection`` holding the Patient and the Observation, whose
  ``subject`` names it, so :func:`cbc_ranges.fhir.from_fhir` reads the sex and
  the age back from it;
- ``effective``: when the sample was taken, a ``datetime.date``, a
  ``datetime.datetime`` with a time zone, or FHIR ``dateTime`` text, written as
  ``effectiveDateTime``;
- ``id``: the Observation's logical id; ``performer``: a reference to who did
  the count (``"Organization/lab-1"``).

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

import datetime as dt
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from cbc_ranges.errors import FHIRError

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation, ReferenceRange

__all__ = [
    "ACCEPTED_LOINC_CODES",
    "DATA_ABSENT_REASON_SYSTEM",
    "LIBRARY_VERSION_SYSTEM",
    "LOINC_SYSTEM",
    "OBSERVATION_INTERPRETATION_SYSTEM",
    "RANGE_TABLE_SHA256_SYSTEM",
    "RANGE_TABLE_SYSTEM",
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

# the library's own code systems for meta.tag: not HL7's; .invalid never resolves (RFC 2606)
#: ``meta.tag`` system whose code is the cbc-ranges version that made the result
LIBRARY_VERSION_SYSTEM = "https://cbc-ranges.invalid/fhir/CodeSystem/library-version"
#: ``meta.tag`` system whose code is the name of the range table used
RANGE_TABLE_SYSTEM = "https://cbc-ranges.invalid/fhir/CodeSystem/range-table"
#: ``meta.tag`` system whose code is the SHA-256 (hex) of the range table file's text
RANGE_TABLE_SHA256_SYSTEM = "https://cbc-ranges.invalid/fhir/CodeSystem/range-table-sha256"

# the namespace of the name-based UUIDs given to a Patient that has no id
_PATIENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://cbc-ranges.invalid/fhir/Patient")

# FHIR R4 datatype patterns (https://hl7.org/fhir/R4/datatypes.html)
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}", re.ASCII)
_FHIR_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})(-(?P<month>0[1-9]|1[0-2])(-(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
    r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?",
    re.ASCII,
)

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


def interpretation_to_fhir(
    interp: Interpretation,
    *,
    subject: str | Mapping[str, Any] | None = None,
    effective: dt.date | dt.datetime | str | None = None,
    id: str | None = None,
    performer: str | None = None,
) -> dict[str, Any]:
    """An interpretation as a FHIR R4 ``Observation`` (a plain, JSON-ready dict).

    The value is always written in UCUM ``10*9/L``; a censored result keeps its
    comparator. The HL7 interpretation code is left out when the flag is
    indeterminate. The options are described in the module docstring; an option
    FHIR cannot hold (an id with a space, a date-time without a time zone) is a
    :class:`~cbc_ranges.errors.FHIRError`. Given a ``Patient`` as ``subject``,
    the result is a collection ``Bundle`` of the Patient and the Observation.

    >>> from cbc_ranges.models import Count, Interpretation, Person
    >>> result = Interpretation(
    ...     count=Count(value=1.0, comparator="<", unit="10*9/L"), person=Person(),
    ...     flag="low", code="L", leukopenia=True, text="Below the range; not a diagnosis.")
    >>> observation = interpretation_to_fhir(result)
    >>> observation["valueQuantity"]["comparator"], observation["valueQuantity"]["value"]
    ('<', 1.0)
    >>> observation["interpretation"][0]["coding"][0]["code"]
    'L'
    >>> tagged = interpretation_to_fhir(result, id="wbc-1", subject="Patient/123",
    ...                                 effective="2026-03-01", performer="Organization/lab")
    >>> tagged["id"], tagged["subject"], tagged["effectiveDateTime"], tagged["performer"]
    ('wbc-1', {'reference': 'Patient/123'}, '2026-03-01', [{'reference': 'Organization/lab'}])
    """
    patient = _patient(subject)
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

    observation: dict[str, Any] = {"resourceType": "Observation"}
    if id is not None:
        observation["id"] = _id(id, "id")
    tags = _provenance_tags(interp)
    if tags:  # FHIR has no empty lists
        observation["meta"] = {"tag": tags}
    observation |= {
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
    }
    if patient is not None:
        observation["subject"] = {"reference": _patient_reference(patient)}
    elif subject is not None:
        observation["subject"] = _reference(subject, "subject")
    if effective is not None:
        observation["effectiveDateTime"] = _date_time(effective)
    if performer is not None:
        observation["performer"] = [_reference(performer, "performer")]
    observation |= value
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
    if patient is None:
        return observation
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": _patient_reference(patient), "resource": patient}
            if "id" not in patient
            else {"resource": patient},
            {"resource": observation},
        ],
    }


def _provenance_tags(interp: Interpretation) -> list[dict[str, Any]]:
    """``meta.tag`` codings: the library version, and the range table with its digest."""
    version = getattr(interp, "library_version", None)
    tags: list[dict[str, Any]] = []
    if isinstance(version, str) and version.strip():
        tags.append(
            {
                "system": LIBRARY_VERSION_SYSTEM,
                "code": _code_text(version),
                "display": f"cbc-ranges {version}",
            }
        )
    table = getattr(interp, "table", None)
    if table is not None:
        if table.name.strip():
            tags.append(
                {
                    "system": RANGE_TABLE_SYSTEM,
                    "code": _code_text(table.name),
                    "display": f"range table {table.name}",
                }
            )
        if table.sha256.strip():
            tags.append({"system": RANGE_TABLE_SHA256_SYSTEM, "code": _code_text(table.sha256)})
    return tags


def _code_text(text: str) -> str:
    # a FHIR code has no leading, trailing or repeated whitespace
    return " ".join(text.split())


def _id(value: object, option: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the FHIR option {option!r} must be a str, not {type(value).__name__}")
    if not _FHIR_ID.fullmatch(value):
        raise FHIRError(
            f"{option} {value[:60]!r} is not a FHIR id: 1 to 64 letters, digits, '-' or '.'",
            raw=value,
        )
    return value


def _reference(value: object, option: str) -> dict[str, Any]:
    """A FHIR Reference from reference text (``Patient/123``) or a Reference dict."""
    if isinstance(value, str):
        if not value.strip() or value != value.strip():
            raise FHIRError(
                f"{option} {value[:60]!r} is not a FHIR reference such as 'Patient/123'",
                raw=value,
            )
        return {"reference": value}
    if isinstance(value, Mapping) and "resourceType" not in value:
        reference = dict(value)
        if not any(key in reference for key in ("reference", "identifier", "display")):
            raise FHIRError(
                f"{option} is not a FHIR Reference: it has no reference, identifier or display",
                raw=None,
            )
        return reference
    if isinstance(value, Mapping):
        kind = value["resourceType"]
        raise FHIRError(
            f"{option} must be a reference or a Patient resource, not a {kind!r} resource",
            raw=kind,
        )
    raise TypeError(
        f"the FHIR option {option!r} must be a reference str or dict, not {type(value).__name__}"
    )


def _patient(subject: object) -> dict[str, Any] | None:
    """The Patient resource given as ``subject``, as a plain dict, or None."""
    if isinstance(subject, Mapping) and subject.get("resourceType") == "Patient":
        patient = dict(subject)
        if "id" in patient:
            _id(patient["id"], "subject's Patient id")
        return patient
    return None


def _patient_reference(patient: Mapping[str, Any]) -> str:
    """How the Observation names the Patient: ``Patient/<id>``, else a stable urn:uuid."""
    if "id" in patient:
        return f"Patient/{patient['id']}"
    # no id: a name-based UUID of the Patient's content, the same for the same Patient
    text = json.dumps(patient, sort_keys=True, ensure_ascii=False, default=str)
    return f"urn:uuid:{uuid.uuid5(_PATIENT_NAMESPACE, text)}"


def _date_time(value: object) -> str:
    """``effective`` as a FHIR dateTime: a date, an aware datetime, or FHIR dateTime text."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise FHIRError(
                f"effective {value.isoformat()} has a time but no time zone; FHIR requires "
                "one (give tzinfo, or a date)",
                raw=value,
            )
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise TypeError(
            "the FHIR option 'effective' must be a date, a datetime or text, "
            f"not {type(value).__name__}"
        )
    match = _FHIR_DATE_TIME.fullmatch(value)
    if match is not None:
        year, month, day = match.group("year", "month", "day")
        try:
            dt.date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            match = None  # 2024-02-30, or year 0000
    if match is None:
        raise FHIRError(
            f"effective {value[:60]!r} is not a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD, "
            "or YYYY-MM-DDThh:mm:ss with a time zone)",
            raw=value,
        )
    return value


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
