"""FHIR R4 in and out: a WBC count as an ``Observation`` resource.

FHIR (Fast Healthcare Interoperability Resources) is the HL7 standard most
electronic health records speak. A white blood cell count is an
``Observation`` coded with LOINC 6690-2, its value a ``Quantity`` in UCUM
units. This module reads one (:func:`from_fhir`), alone or inside a ``Bundle``
that also holds the ``Patient``. Writing one is the ``fhir`` output format,
:mod:`cbc_ranges.formats.fhir` (``Interpretation.to_fhir()``); its
:func:`interpretation_to_fhir` is re-exported here.

Resources are plain ``dict`` objects, exactly as ``json.loads`` gives them:
the library never imports a FHIR model library. ``from_fhir`` also takes a
JSON string, or any model object with a ``model_dump()`` method (such as a
``fhir.resources`` Observation).

Whatever the content, ``from_fhir`` returns an Interpretation or raises a
:class:`~cbc_ranges.errors.CBCError` (usually a
:class:`~cbc_ranges.errors.FHIRError`): nesting too deep for Python, numbers
too large for a float and dates Python cannot represent (year 10000) are
errors about the resource, never a ``RecursionError``, ``OverflowError`` or a
bare ``ValueError``. An argument of the wrong Python type (``from_fhir(5)``)
is a ``TypeError``.

What comes in is described in ``docs/embedding.md``.

>>> from cbc_ranges.models import Count, Interpretation, Person
>>> result = Interpretation(
...     count=Count(value=4.2, unit="10*9/L"), person=Person(), flag="indeterminate",
...     code=None, leukopenia=None, text="No range applies. This is not a diagnosis.")
>>> observation = interpretation_to_fhir(result)
>>> from_fhir(observation).count.value
4.2
"""

from __future__ import annotations

import datetime as dt
import json
import re
import reprlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cbc_ranges.errors import CBCError, FHIRError
from cbc_ranges.formats.fhir import (
    ACCEPTED_LOINC_CODES,
    LIBRARY_VERSION_SYSTEM,
    LOINC_SYSTEM,
    OBSERVATION_INTERPRETATION_SYSTEM,
    RANGE_TABLE_SHA256_SYSTEM,
    RANGE_TABLE_SYSTEM,
    UCUM_SYSTEM,
    interpretation_to_fhir,
)

if TYPE_CHECKING:
    from cbc_ranges.analytes import ValueKind
    from cbc_ranges.models import Count, Interpretation
    from cbc_ranges.people import Age
    from cbc_ranges.ranges import RangeTable

__all__ = [
    "ACCEPTED_LOINC_CODES",
    "LOINC_SYSTEM",
    "OBSERVATION_INTERPRETATION_SYSTEM",
    "UCUM_SYSTEM",
    "from_fhir",
    "interpretation_to_fhir",
]

# observation statuses that carry no usable result
_REFUSED_STATUSES = {"entered-in-error", "cancelled"}
# statuses that are usable but not final: say so in the warnings
_PROVISIONAL_STATUSES = {"registered", "preliminary", "unknown"}

# a FHIR date, or the date part of a dateTime/instant: nothing but a time may follow
_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?=T|$)", re.ASCII)


# ---------------------------------------------------------------------------- in

# how a value from the resource is shown in a message: short, and safe for any nesting
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlong = 3, 60, 60, 40
_ACCEPTED_TYPES = "a dict, JSON text (str, bytes or bytearray) or a model with model_dump()"


def _shown(value: object) -> str:
    """``repr`` of a value from the resource, cut short (a 400-digit number, a deep list)."""
    return _SHOWN.repr(value)


def _words(value: object) -> str:
    """A value from the resource as it reads in a message: text as is, anything else shown."""
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    return _shown(value)


def _as_resource(resource: object) -> dict[str, Any]:
    """A resource given as a dict, JSON text or a model object, as a plain dict."""
    if isinstance(resource, (str, bytes, bytearray)):
        try:
            loaded = json.loads(resource)
        except RecursionError:
            raise FHIRError("not FHIR JSON: nested too deeply to read", raw=resource) from None
        except ValueError as error:  # includes a number of more than 4300 digits
            raise FHIRError(f"not FHIR JSON: {error}", raw=resource) from None
        resource = loaded
    elif not isinstance(resource, Mapping):
        dump = getattr(resource, "model_dump", None)
        if not callable(dump):
            raise TypeError(
                f"from_fhir() argument 'observation' must be {_ACCEPTED_TYPES}, "
                f"not {type(resource).__name__}"
            )
        try:
            try:
                resource = dump(mode="json", by_alias=True, exclude_none=True)
            except TypeError:  # a model_dump() without pydantic's keywords
                resource = dump()
        except RecursionError:
            raise FHIRError("the FHIR model is nested too deeply to read", raw=None) from None
    if not isinstance(resource, Mapping):
        raise FHIRError(f"expected a FHIR resource object, got {type(resource).__name__}", raw=None)
    return dict(resource)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return value
    return ()


def _codings(observation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [_mapping(c) for c in _sequence(_mapping(observation.get("code")).get("coding"))]


def _analyte_of(observation: Mapping[str, Any]) -> tuple[str, ValueKind] | None:
    """The analyte and kind of value of an Observation's LOINC code, or None."""
    from cbc_ranges.analytes import analyte_for_loinc

    for coding in _codings(observation):
        code = coding.get("code")
        if coding.get("system") == LOINC_SYSTEM and isinstance(code, str):
            found = analyte_for_loinc(code)
            if found is not None:
                return found
    return None


def _accepted_codes() -> str:
    """The LOINC codes read, by analyte, as a message lists them."""
    from cbc_ranges.analytes import analytes

    return "; ".join(
        f"{analyte.id} {', '.join((*analyte.loinc, *analyte.loinc_percent))}"
        for analyte in analytes().values()
        if analyte.loinc or analyte.loinc_percent
    )


def _check_code(observation: Mapping[str, Any]) -> tuple[str, ValueKind]:
    """The analyte and kind of an Observation, or a FHIRError naming the code it has."""
    found = _analyte_of(observation)
    if found is not None:
        return found
    codings = _codings(observation)
    seen = ", ".join(
        f"{_words(c.get('system') or '(no system)')}|{_words(c.get('code'))}" for c in codings
    )
    raise FHIRError(
        f"the Observation is not a white blood cell count: its code is {seen or 'missing'}, "
        f"expected a LOINC code ({LOINC_SYSTEM}) of a white cell count: {_accepted_codes()}",
        raw=observation.get("code"),
    )


def _number(value: object, field: str) -> int | float | str:
    """A JSON number or text from the resource, refused when a float cannot hold it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FHIRError(f"{field} is not a number: {_shown(value)}", raw=value)
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise FHIRError(
                f"{field} is too large to be a count: {_shown(value)}", raw=value
            ) from None
    return value


def _value_text(value: object, comparator: object) -> str | int | float:
    number = _number(value, "valueQuantity.value")
    if comparator is None:
        return number
    if not isinstance(comparator, str) or comparator not in ("<", "<=", ">", ">="):
        raise FHIRError(f"unknown valueQuantity.comparator {_shown(comparator)}", raw=comparator)
    return f"{comparator}{number}"


def _read_count(observation: Mapping[str, Any], warnings: list[str], analyte: str = "wbc") -> Count:
    """The Observation's value, through the library's unit-aware parser (a count, or a
    percentage of white cells in ``%``)."""
    from cbc_ranges.errors import UnitError
    from cbc_ranges.interpretation import read_value

    def parse_count(value: str | int | float, unit: str | None = None, **_: object) -> Count:
        return read_value(value, unit, analyte=analyte, decimal_comma=False)

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
                count = parse_count(value, candidate, decimal_comma=False)
            except UnitError as error:
                first_error = first_error or error
                continue
            if ucum and candidate == code and isinstance(unit, str):
                warnings.extend(_disagreement(code, unit))
            return count
        assert first_error is not None
        raise first_error
    if isinstance(observation.get("valueString"), str):
        return parse_count(observation["valueString"])
    if "valueInteger" in observation and not isinstance(observation["valueInteger"], bool):
        integer = _number(observation["valueInteger"], "valueInteger")
        if isinstance(integer, int):
            return parse_count(integer)
    absent = _mapping(observation.get("dataAbsentReason"))
    reason = absent.get("text") or next(
        (c.get("code") for c in map(_mapping, _sequence(absent.get("coding"))) if c.get("code")),
        None,
    )
    raise FHIRError(
        "the Observation has no value"
        + (f" (dataAbsentReason: {_words(reason)})" if reason else " (no valueQuantity)"),
        raw=observation.get("id"),
    )


def _disagreement(code: str, unit: str) -> list[str]:
    """A warning when the unit text reads as another amount than the UCUM code that was used."""
    from cbc_ranges.units import read_unit

    try:
        by_code, by_unit = read_unit(code), read_unit(unit)
    except CBCError:  # free text such as "thousand per microlitre": nothing to compare
        return []
    ratio = by_code.factor / by_unit.factor
    if abs(ratio - 1) < 1e-9:
        return []
    factor = f"{ratio:,.0f}" if ratio >= 1 else f"1/{1 / ratio:,.0f}"
    return [
        f"The valueQuantity code {code!r} and unit text {unit!r} disagree "
        f"(they differ by a factor of {factor}); the UCUM code was used."
    ]


def _fhir_date(text: object, field: str) -> tuple[dt.date, int]:
    """A FHIR date or dateTime as (date, precision: 1 year, 2 month, 3 day).

    A date Python cannot represent (year 0, year 10000, 2024-02-30) is a FHIRError.
    """
    match = _FHIR_DATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise FHIRError(f"{field} is not a FHIR date: {_shown(text)}", raw=text)
    year, month, day = match.groups()
    try:
        return dt.date(int(year), int(month or 1), int(day or 1)), 3 - [month, day].count(None)
    except ValueError:
        raise FHIRError(f"{field} is not a valid date: {_shown(text)}", raw=text) from None


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
    """The last day of a year, or of a month: never past 9999-12-31.

    >>> _last_day(9999, 12), _last_day(2024, 2)
    (datetime.date(9999, 12, 31), datetime.date(2024, 2, 29))
    """
    if month is None or month == 12:
        return dt.date(year, 12, 31)
    return dt.date(year, month + 1, 1) - dt.timedelta(days=1)


def _deceased_warning(patient: Mapping[str, Any], observation: Mapping[str, Any]) -> str | None:
    """A warning when the Patient is recorded as deceased: the ranges are for the living."""
    died = patient.get("deceasedDateTime")
    if died is None and patient.get("deceasedBoolean") is not True:
        return None
    try:  # only to say whether the count is dated after the death
        seen = _effective_date(observation)
    except FHIRError:
        seen = None
    effective = seen[0] if seen else None
    text = "The FHIR Patient is recorded as deceased"
    if isinstance(died, str):
        text += f" (deceasedDateTime {_words(died)})"
        try:
            death, _ = _fhir_date(died, "Patient.deceasedDateTime")
        except FHIRError:
            death = None
        if death is not None and effective is not None and effective > death:
            text += "; the count is dated after the death"
    return (
        text + ". The reference ranges describe living people: check that the count "
        "belongs to this patient and to the date given."
    )


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
            local_id = resource.get("id")
            names = [entry.get("fullUrl")]
            if isinstance(local_id, str):
                names.append(f"Patient/{local_id}")
            if reference in names:
                return resource
    if len(patients) == 1:
        return _mapping(patients[0].get("resource"))
    if len(patients) > 1:
        raise FHIRError(
            f"the Bundle holds {len(patients)} Patients and the Observation's subject "
            f"({_shown(reference)}) names none of them",
            raw=reference,
        )
    return None


def _ethnicity_of(patient: Mapping[str, Any]) -> str | None:
    """Free text from the US Core race or ethnicity extension, if there is one."""
    for suffix in ("us-core-race", "us-core-ethnicity"):
        for extension in map(_mapping, _sequence(patient.get("extension"))):
            url = extension.get("url")
            if not (isinstance(url, str) and url.endswith(suffix)):
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
    age: Age | float | str | None = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    table: RangeTable | str | None = None,
    analyte: str | None = None,
    wbc: str | float | Count | None = None,
) -> Interpretation:
    """Interpret a FHIR white cell count ``Observation``, or a ``Bundle`` holding one.

    The Observation must carry a LOINC code of an analyte of ``analytes.toml``:
    the WBC count (6690-2, 26464-8) or a count or percentage of the
    differential (751-8 neutrophils, 770-8 neutrophils %, ...); anything else is
    a :class:`~cbc_ranges.errors.FHIRError`. In a Bundle of several, the WBC
    count is read unless ``analyte=`` names another (its count, when the Bundle
    holds both its count and its percentage). A percentage becomes a
    count per volume with ``wbc=`` or, in a Bundle, the WBC Observation of the
    same date. Its ``valueQuantity`` goes through
    the library's parser: the UCUM ``code`` first (``10*9/L``, ``10*3/uL``,
    ``/uL``, ``/mm3``...), then the ``unit`` text; a bad unit raises
    :class:`~cbc_ranges.errors.UnitError`. ``valueString`` ("4.2 K/uL") is read
    too.

    In a Bundle the Patient named by the Observation's ``subject`` (or the only
    Patient) gives the sex (``gender``), the age (``birthDate`` against the
    Observation's ``effectiveDateTime``, ``effectiveInstant``,
    ``effectivePeriod.start`` or ``issued``, counted on the calendar in days and
    months by :meth:`~cbc_ranges.people.Age.between`) and the ethnicity (US Core
    race or ethnicity extension text). A date known only to the year or month gives the youngest
    age it allows, with a warning. Keyword arguments win over what the
    resources say. The range table named in the Observation's ``meta.tag`` (as
    ``to_fhir()`` writes it) is used when ``table`` is not given and the table
    is shipped; another version of it, or of the library, is warned about.

    >>> observation = {
    ...     "resourceType": "Observation", "status": "final",
    ...     "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
    ...     "valueQuantity": {"value": 3.1, "unit": "10*3/uL",
    ...                       "system": "http://unitsofmeasure.org", "code": "10*3/uL"}}
    >>> result = from_fhir(observation, age=40, sex="female")
    >>> result.count.value, result.flag
    (3.1, 'low')
    """
    resource = _as_resource(observation)
    try:
        return _from_resource(
            resource,
            age=age,
            sex=sex,
            ethnicity=ethnicity,
            table=table,
            analyte=analyte,
            wbc=wbc,
        )
    except CBCError:
        raise
    except RecursionError:
        raise FHIRError("the FHIR resource is nested too deeply to read", raw=None) from None
    except (OverflowError, ValueError) as error:
        # a number or a date Python cannot hold, met somewhere this module did not foresee
        raise FHIRError(f"the FHIR resource cannot be read: {error}", raw=None) from error


def _choose(observations: Sequence[Mapping[str, Any]], analyte: str | None) -> Mapping[str, Any]:
    """The Observation of a Bundle to interpret: the one of ``analyte``, else the WBC count."""
    from cbc_ranges.analytes import get_analyte

    coded = [(obs, _analyte_of(obs)) for obs in observations]
    cells = [(obs, found) for obs, found in coded if found is not None]
    if analyte is not None:
        wanted = get_analyte(analyte).id
        chosen = [obs for obs, found in cells if found[0] == wanted]
        counts = [obs for obs, found in cells if found == (wanted, "count")]
        if len(chosen) > 1 and len(counts) == 1:
            chosen = counts  # a lab's count and percentage of one analyte: the count is read
        what = f"{wanted} Observations"
    else:
        chosen = [obs for obs, found in cells if found[0] == "wbc"]
        what = f"white blood cell count Observations (LOINC {' or '.join(ACCEPTED_LOINC_CODES)})"
        if not chosen and len(cells) == 1:
            chosen = [cells[0][0]]  # the Bundle's only white cell result
    if len(chosen) == 1:
        return chosen[0]
    if not cells and len(observations) == 1:
        _check_code(observations[0])  # raises, naming the code it found
    hint = ""
    if analyte is None and len(cells) > 1:
        hint = (
            "; pass analyte= to choose one ("
            + ", ".join(sorted({found[0] for _, found in cells}))
            + ")"
        )
    raise FHIRError(
        f"the Bundle holds {len(chosen)} {what}; expected exactly one{hint}", raw=len(chosen)
    )


def _bundle_wbc(
    observations: Sequence[Mapping[str, Any]], chosen: Mapping[str, Any], warnings: list[str]
) -> Count | None:
    """The Bundle's total WBC for a percentage Observation: the WBC Observation of the same
    date (or the only one), or None with a warning when there is none or it cannot be read."""
    counts = [obs for obs in observations if (_analyte_of(obs) or ("", ""))[0] == "wbc"]
    when = chosen.get("effectiveDateTime")
    if len(counts) > 1 and when is not None:
        counts = [obs for obs in counts if obs.get("effectiveDateTime") == when]
    if len(counts) != 1:
        warnings.append(
            "The Observation is a percentage of white cells and the Bundle holds "
            + ("no" if not counts else "more than one")
            + " total white cell count for it, so no count per volume was worked out."
        )
        return None
    try:
        return _read_count(counts[0], [])
    except CBCError as error:
        warnings.append(f"The Bundle's white blood cell count was not read: {error}")
        return None


def _tagged_table(
    observation: Mapping[str, Any], table: RangeTable | str | None, warnings: list[str]
) -> RangeTable | str | None:
    """The range table named in the Observation's ``meta.tag`` (written by ``to_fhir``), when
    no table is given and this library ships it; a warning when it was another version."""
    from cbc_ranges import __version__
    from cbc_ranges.ranges import get_table, shipped_table_names

    tags: dict[str, str] = {}
    for tag in map(_mapping, _sequence(_mapping(observation.get("meta")).get("tag"))):
        system, code = tag.get("system"), tag.get("code")
        if isinstance(system, str) and isinstance(code, str):
            tags.setdefault(system, code)
    version = tags.get(LIBRARY_VERSION_SYSTEM)
    if version is not None and version != __version__:
        warnings.append(
            f"The Observation was written by cbc-ranges {_words(version)}; "
            f"this is {__version__}, and its reading may differ."
        )
    name = tags.get(RANGE_TABLE_SYSTEM)
    if table is not None or name is None:
        return table
    if name not in shipped_table_names():
        warnings.append(
            f"The Observation was read with a range table named {_words(name)}, which this "
            "library does not ship; the default table was used."
        )
        return None
    digest = tags.get(RANGE_TABLE_SHA256_SYSTEM)
    if digest is not None and digest != get_table(name).sha256:
        warnings.append(
            f"The Observation was read with another version of the range table {name!r} "
            "(its digest differs); this version of the table was used."
        )
    return name


def _from_resource(
    resource: dict[str, Any],
    *,
    age: Any,
    sex: str | None,
    ethnicity: str | None,
    table: RangeTable | str | None,
    analyte: str | None = None,
    wbc: str | float | Count | None = None,
) -> Interpretation:
    from cbc_ranges.count import parse_count
    from cbc_ranges.errors import UnitError
    from cbc_ranges.interpretation import interpret_count

    warnings: list[str] = []
    patient: Mapping[str, Any] | None = None
    observations: list[Mapping[str, Any]] = []
    kind = resource.get("resourceType")
    if kind == "Bundle":
        entries = [_mapping(entry) for entry in _sequence(resource.get("entry"))]
        observations = [
            _mapping(entry.get("resource"))
            for entry in entries
            if _mapping(entry.get("resource")).get("resourceType") == "Observation"
        ]
        resource = dict(_choose(observations, analyte))
        patient = _patient_for(entries, resource)
    elif kind != "Observation":
        raise FHIRError(
            f"expected a FHIR Observation or Bundle, got resourceType {_shown(kind)}", raw=kind
        )
    found, value_kind = _check_code(resource)
    if analyte is not None:
        from cbc_ranges.analytes import get_analyte

        wanted = get_analyte(analyte).id
        if wanted != found:
            raise FHIRError(
                f"the Observation is a {found} result, not {wanted}", raw=resource.get("code")
            )

    status = resource.get("status")
    if status is not None and not isinstance(status, str):
        raise FHIRError(f"the Observation's status is not a code: {_shown(status)}", raw=status)
    if status in _REFUSED_STATUSES:
        raise FHIRError(f"the Observation's status is {status!r}: it holds no result", raw=status)
    if status in _PROVISIONAL_STATUSES:
        warnings.append(f"The FHIR Observation's status is {status!r}, not final.")

    count = _read_count(resource, warnings, found)
    total: Count | None = None
    if value_kind == "percent":
        if count.unit != "%":  # a percentage code with a count's unit
            raise UnitError(
                f"the Observation is coded as a percentage of white cells but its value is "
                f"in {_words(count.unit_text or count.unit)}",
                raw=resource.get("valueQuantity"),
                unit=count.unit_text or count.unit,
            )
        if wbc is not None:
            total = wbc if not isinstance(wbc, (str, int, float)) else parse_count(wbc)
        elif observations:
            total = _bundle_wbc(observations, resource, warnings)
    elif count.unit == "%":
        raise UnitError(
            "the Observation is coded as a count per volume but its value is in %: "
            "a percentage of white cells has its own LOINC code (770-8 for neutrophils)",
            raw=resource.get("valueQuantity"),
            unit="%",
        )
    table = _tagged_table(resource, table, warnings)

    if patient is not None:
        if sex is None and isinstance(patient.get("gender"), str):
            sex = patient["gender"]
        if ethnicity is None:
            ethnicity = _ethnicity_of(patient)
        if age is None and patient.get("birthDate") is not None:
            # the age rests on the Observation's date, so a bad one is an error here
            age = _age_from_dates(patient["birthDate"], _effective_date(resource), warnings)
        deceased = _deceased_warning(patient, resource)
        if deceased:
            warnings.append(deceased)

    lab_range = _lab_range(resource, warnings, total, found)
    result = interpret_count(
        count,
        analyte=found,
        age=age,
        sex=sex,
        ethnicity=ethnicity,
        table=table,
        lab_range=lab_range,
        wbc=total,
    )
    warnings += _interpretation_disagreement(resource, result.code)
    if warnings:
        result = result.model_copy(update={"warnings": [*result.warnings, *warnings]})
    return result


def _lab_range(
    observation: Mapping[str, Any],
    warnings: list[str],
    total: Count | None = None,
    analyte: str = "wbc",
) -> str | None:
    """The Observation's own ``referenceRange`` (its first entry with a low or a high, for the
    whole population: no ``appliesTo`` or ``age``), as text in 10^9/L; None when none.

    The range the lab printed with the result comes first, as the text says; a range
    that cannot be read is left out with a warning, never guessed. It is handed on as
    text in 10^9/L ("4.5-11 10*9/L", "<=11 10*9/L"), whatever unit the value had. A
    percentage's range stays in % ("40-70 %"), or, with the total count ``total`` the
    percentage becomes a count with, is turned into 10^9/L the same way.
    """
    from cbc_ranges.interpretation import read_value
    from cbc_ranges.models import format_number

    for entry in map(_mapping, _sequence(observation.get("referenceRange"))):
        if entry.get("appliesTo") or entry.get("age"):
            continue  # a range for another population than the person's
        limits: list[float | None] = []
        unit_out = "10*9/L"
        for side in ("low", "high"):
            quantity = _mapping(entry.get(side))
            if quantity.get("value") is None:
                limits.append(None)
                continue
            unit = quantity.get("code") or quantity.get("unit")
            try:
                read = read_value(
                    _value_text(quantity.get("value"), None),
                    unit if isinstance(unit, str) and unit.strip() else None,
                    analyte=analyte,
                    decimal_comma=False,
                )
            except CBCError as error:
                warnings.append(f"the Observation's referenceRange {side} was not read: {error}")
                limits = []
                break
            if read.unit == "%" and total is not None:
                limits.append(read.value * total.value / 100)
            else:
                limits.append(read.value)
                unit_out = "%" if read.unit == "%" else unit_out
        if len(limits) != 2 or (limits[0] is None and limits[1] is None):
            continue
        low, high = (None if x is None else format_number(x, places=6) for x in limits)
        if low is not None and high is not None:
            return f"{low}-{high} {unit_out}"
        return f"<={high} {unit_out}" if high is not None else f">={low} {unit_out}"
    return None


# the HL7 v3 ObservationInterpretation codes a lab may send, as the library's L/N/H
_LAB_CODES = {"L": "L", "LL": "L", "LU": "L", "N": "N", "H": "H", "HH": "H", "HU": "H"}


def _interpretation_disagreement(observation: Mapping[str, Any], code: str | None) -> list[str]:
    """A warning when the Observation's own interpretation differs from the library's."""
    for concept in map(_mapping, _sequence(observation.get("interpretation"))):
        for coding in map(_mapping, _sequence(concept.get("coding"))):
            theirs = coding.get("code")
            if not isinstance(theirs, str) or theirs not in _LAB_CODES:
                continue
            if code is not None and _LAB_CODES[theirs] != code:
                return [
                    f"the Observation's own interpretation is {theirs!r}; this library's is "
                    f"{code!r}"
                ]
            return []
    return []


def _age_from_dates(
    birth_text: object, effective: tuple[dt.date, int] | None, warnings: list[str]
) -> Age | None:
    """The age on the Observation's date from the Patient's birth date, or None with a warning.

    The age is calendar-exact (:meth:`~cbc_ranges.people.Age.between`): born 2024-01-01
    and seen 2024-01-08 is 7 days old, the same age as ``age="7 days"``.
    """
    from cbc_ranges.people import Age

    birth, precision = _fhir_date(birth_text, "Patient.birthDate")
    if effective is None:
        warnings.append(
            "The Observation has no effective date, so the age could not be worked "
            "out from the Patient's birth date."
        )
        return None
    on, on_precision = effective
    if on_precision < 3:
        # a date of the year or month alone reads as its first day: the youngest age
        warnings.append(
            "The Observation's date gives only the "
            + ("year" if on_precision == 1 else "year and month")
            + "; the age used is the youngest the person can have been."
        )
    if precision < 3:
        # only the year or month is known: count from its last day, the youngest the person
        # can be (but not after the Observation's date), and say so
        birth = min(_last_day(birth.year, birth.month if precision == 2 else None), on)
        warnings.append(
            "The Patient's birth date gives only the "
            + ("year" if precision == 1 else "year and month")
            + "; the age used is the youngest it can be."
        )
    if on < birth:
        raise FHIRError(
            f"the observation date {on} is before the birth date {birth}", raw=birth_text
        )
    try:
        return Age.between(birth, on)
    except ArithmeticError:  # a month that would end after 9999-12-31
        raise FHIRError(
            f"the age from the birth date {birth} to {on} cannot be worked out: "
            "the dates are too close to the end of the calendar (9999-12-31)",
            raw=birth_text,
        ) from None
