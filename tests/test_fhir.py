"""FHIR R4 out (``Interpretation.to_fhir``) and in (``from_fhir``).

What goes out is validated with an independent FHIR model library
(``fhir.resources``, R4B models), never with our own code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cbc_ranges import CBCError, FHIRError, ParseError, UnitError, from_fhir, interpret
from cbc_ranges.fhir import (
    LOINC_SYSTEM,
    OBSERVATION_INTERPRETATION_SYSTEM,
    UCUM_SYSTEM,
    interpretation_to_fhir,
)
from cbc_ranges.models import (
    Count,
    Interpretation,
    Person,
    Population,
    ReferenceRange,
    Source,
)

SOURCE = Source(
    id="clinic",
    title="Low White Blood Cell Count (Leukopenia): Causes, Symptoms & Treatment",
    publisher="Cleveland Clinic Health Library",
    date="2022-10-27",
)


def _hand_built(
    value: float = 3.1,
    *,
    comparator: Any = None,
    flag: Any = "low",
    code: Any = "L",
    leukopenia: bool | None = True,
    reference: ReferenceRange | None = None,
    threshold: ReferenceRange | None = None,
    warnings: tuple[str, ...] = (),
) -> Interpretation:
    return Interpretation(
        count=Count(value=value, comparator=comparator, unit="10*9/L", unit_text="10*9/L"),
        person=Person(age_years=40, sex="female"),
        flag=flag,
        code=code,
        leukopenia=leukopenia,
        reference=reference,
        leukopenia_threshold=threshold,
        sources=[SOURCE],
        warnings=list(warnings),
        text="Compared with the adult female range. This is not a diagnosis.",
    )


FEMALE_ADULT = ReferenceRange(
    low=4.5,
    high=11.0,
    population=Population(age_from=18, sex="female"),
    source=SOURCE,
)
CHILD = ReferenceRange(
    low=5.0, high=10.0, population=Population(age_from=0, age_to=18), source=SOURCE
)
THRESHOLD = ReferenceRange(
    kind="leukopenia_threshold",
    low=4.0,
    population=Population(age_from=18),
    source=SOURCE,
)


def _validate(resource: dict[str, Any]) -> Observation:
    # through JSON, as a receiving system would see it
    return Observation.model_validate_json(json.dumps(resource))


# ------------------------------------------------------------------ out, hand-built


def test_a_low_result_is_a_valid_observation_with_every_part() -> None:
    resource = _hand_built(reference=FEMALE_ADULT, threshold=THRESHOLD).to_fhir()
    observation = _validate(resource)
    assert observation.status == "final"
    assert observation.category[0].coding[0].code == "laboratory"
    assert observation.code.coding[0].system == LOINC_SYSTEM
    assert observation.code.coding[0].code == "6690-2"
    assert observation.code.coding[0].display == (
        "Leukocytes [#/volume] in Blood by Automated count"
    )
    quantity = observation.valueQuantity
    assert (float(quantity.value), quantity.unit, quantity.system, quantity.code) == (
        3.1,
        "10*9/L",
        UCUM_SYSTEM,
        "10*9/L",
    )
    assert quantity.comparator is None
    interpretation = observation.interpretation[0].coding[0]
    assert (interpretation.system, interpretation.code) == (OBSERVATION_INTERPRETATION_SYSTEM, "L")
    assert observation.note[0].text == (
        "Compared with the adult female range. This is not a diagnosis."
    )


def test_reference_range_has_limits_age_and_a_text_naming_population_and_source() -> None:
    resource = _hand_built(reference=FEMALE_ADULT, threshold=THRESHOLD).to_fhir()
    interval, threshold = _validate(resource).referenceRange
    assert float(interval.low.value) == 4.5 and float(interval.high.value) == 11.0
    assert interval.low.code == interval.high.code == "10*9/L"
    assert interval.type.coding[0].code == "normal"
    assert float(interval.age.low.value) == 18 and interval.age.low.code == "a"
    assert interval.age.high is None
    assert interval.appliesTo[0].text == "female"
    assert "female" in interval.text
    assert SOURCE.title in interval.text and "Cleveland Clinic" in interval.text
    assert "4.5 to 11.0 × 10⁹/L" in interval.text
    # the leukopenia threshold comes second, low only, and says what it is
    assert float(threshold.low.value) == 4.0 and threshold.high is None
    assert threshold.type.text == "Leukopenia threshold"
    assert "Leukopenia threshold" in threshold.text


def test_age_band_of_a_child_row_has_low_and_high() -> None:
    resource = _hand_built(5.5, flag="normal", code="N", leukopenia=None, reference=CHILD)
    (interval,) = _validate(resource.to_fhir()).referenceRange
    assert (float(interval.age.low.value), float(interval.age.high.value)) == (0, 18)
    assert "under 18" in interval.text
    assert interval.appliesTo is None


@pytest.mark.parametrize("comparator", ["<", "<=", ">", ">="])
def test_a_censored_value_keeps_its_comparator(comparator: str) -> None:
    resource = _hand_built(1.0, comparator=comparator, flag="indeterminate", code=None)
    observation = _validate(resource.to_fhir())
    assert observation.valueQuantity.comparator == comparator
    assert float(observation.valueQuantity.value) == 1.0


def test_indeterminate_has_no_interpretation_code() -> None:
    resource = _hand_built(flag="indeterminate", code=None, leukopenia=None).to_fhir()
    assert "interpretation" not in resource
    assert "referenceRange" not in resource
    _validate(resource)


@pytest.mark.parametrize(("flag", "code"), [("low", "L"), ("normal", "N"), ("high", "H")])
def test_each_flag_gets_its_hl7_code(flag: str, code: str) -> None:
    resource = _hand_built(flag=flag, code=code, reference=FEMALE_ADULT).to_fhir()
    assert _validate(resource).interpretation[0].coding[0].code == code


def test_warnings_become_notes_after_the_text() -> None:
    resource = _hand_built(warnings=("No age was given.", "No unit was given.")).to_fhir()
    notes = [note.text for note in _validate(resource).note]
    assert notes[1:] == ["Warning: No age was given.", "Warning: No unit was given."]


def test_float_noise_is_not_written_but_precision_is_kept() -> None:
    noisy = _hand_built(3.8000000000000003).to_fhir()
    assert noisy["valueQuantity"]["value"] == 3.8
    precise = _hand_built(4.123456).to_fhir()
    assert precise["valueQuantity"]["value"] == 4.123456


def test_the_output_is_plain_json_and_the_method_is_the_function() -> None:
    result = _hand_built(reference=FEMALE_ADULT, threshold=THRESHOLD)
    resource = result.to_fhir()
    assert json.loads(json.dumps(resource)) == resource
    assert interpretation_to_fhir(result) == resource


_limits = st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False)


@st.composite
def _interpretations(draw: st.DrawFn) -> Interpretation:
    flag, code = draw(
        st.sampled_from([("low", "L"), ("normal", "N"), ("high", "H"), ("indeterminate", None)])
    )
    age_from = draw(st.none() | st.floats(min_value=0, max_value=120))
    age_to = draw(st.none() | st.floats(min_value=0, max_value=130))
    low, high = sorted((draw(_limits), draw(_limits)))
    reference = draw(
        st.none()
        | st.builds(
            ReferenceRange,
            kind=st.sampled_from(["reference_interval", "leukopenia_threshold"]),
            low=st.just(low) | st.none(),
            high=st.just(high) | st.none(),
            population=st.builds(
                Population,
                age_from=st.just(age_from),
                age_to=st.just(age_to),
                sex=st.sampled_from(["female", "male", "unknown", "any"]),
                ethnicity=st.sampled_from(["any", "African", "Middle Eastern"]),
            ),
            source=st.just(SOURCE),
        )
    )
    return Interpretation(
        count=Count(
            value=draw(_limits),
            comparator=draw(st.sampled_from([None, "<", "<=", ">", ">="])),
            unit="10*9/L",
        ),
        person=Person(),
        flag=flag,
        code=code,
        leukopenia=draw(st.none() | st.booleans()),
        reference=reference,
        sources=[SOURCE],
        warnings=draw(st.lists(st.text(min_size=1, max_size=20), max_size=2)),
        text=draw(st.text(min_size=1, max_size=50)),
    )


@settings(max_examples=150, deadline=None)
@given(_interpretations())
def test_any_interpretation_gives_a_valid_observation(result: Interpretation) -> None:
    observation = _validate(result.to_fhir())
    assert float(observation.valueQuantity.value) == pytest.approx(result.count.value, rel=1e-11)
    assert (observation.interpretation is None) == (result.code is None)


# ------------------------------------------------------------------ out, real results

REAL_CASES: list[tuple[str | float, str | None, dict[str, Any]]] = [
    ("3.1", "10*9/L", {"age": 40, "sex": "female"}),
    ("4.2", "K/uL", {"age": 40, "sex": "F"}),
    ("7.4", "K/uL", {"age": 35, "sex": "male"}),
    ("12,500", "/mm3", {"age": 50, "sex": "female"}),
    ("4200 cells/µL", None, {"age": 30}),
    ("<1.0", "10*9/L", {"age": 60, "sex": "male"}),
    (">=100", "10^3/uL", {"age": 60}),
    ("4,2", "G/L", {"age": "6 months"}),
    (6.0, "10*3/uL", {"age": 8, "sex": "m"}),
    ("3.5", "x10^9/L", {"age": 45, "sex": "female", "ethnicity": "African American"}),
    ("5.0", "10*9/L", {}),
]


@pytest.fixture(scope="module", params=REAL_CASES, ids=lambda case: f"{case[0]}|{case[1]}")
def real_result(request: pytest.FixtureRequest) -> tuple[Interpretation, dict[str, Any]]:
    value, unit, person = request.param
    return interpret(value, unit, **person), person


def test_real_results_validate_and_carry_the_flag(
    real_result: tuple[Interpretation, dict[str, Any]],
) -> None:
    result, _ = real_result
    observation = _validate(result.to_fhir())
    assert float(observation.valueQuantity.value) == pytest.approx(result.count.value)
    assert observation.valueQuantity.comparator == result.count.comparator
    if result.code is None:
        assert observation.interpretation is None
    else:
        assert observation.interpretation[0].coding[0].code == result.code
    assert "not a diagnosis" in observation.note[0].text
    if result.reference is not None:
        assert result.reference.source.title in observation.referenceRange[0].text


def test_round_trip_gives_the_same_interpretation(
    real_result: tuple[Interpretation, dict[str, Any]],
) -> None:
    result, person = real_result
    again = from_fhir(result.to_fhir(), **person)
    assert again.count.value == pytest.approx(result.count.value)
    assert again.count.comparator == result.count.comparator
    for field in ("flag", "code", "leukopenia", "reference", "leukopenia_threshold", "person"):
        assert getattr(again, field) == getattr(result, field), field
    assert again.sources == result.sources


def test_round_trip_through_a_bundle_takes_person_from_patient() -> None:
    result = interpret("4.2", "K/uL", age=30, sex="female")
    observation = result.to_fhir()
    observation["effectiveDateTime"] = "2026-03-01T09:30:00Z"
    observation["subject"] = {"reference": "Patient/p1"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female",
                          "birthDate": "1996-03-01"}},
            {"resource": observation},
        ],
    }  # fmt: skip
    Bundle.model_validate(bundle)
    again = from_fhir(bundle)
    assert again.person.age_years == 30
    assert again.person.sex == "female"
    assert (again.flag, again.reference) == (result.flag, result.reference)


# ------------------------------------------------------------------ in


def _observation(
    value: Any = 4.2,
    unit: str | None = "10*9/L",
    *,
    code: str | None = None,
    loinc: str = "6690-2",
    system: str | None = UCUM_SYSTEM,
    **more: Any,
) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit is not None:
        quantity["unit"] = unit
    if system is not None:
        quantity["system"] = system
    if code is not None or unit is not None:
        quantity["code"] = code if code is not None else unit
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": loinc}]},
        "valueQuantity": quantity,
        **more,
    }


@pytest.mark.parametrize(
    ("value", "ucum", "expected"),
    [
        (4.2, "10*9/L", 4.2),
        (4.2, "10*3/uL", 4.2),
        (4200, "/uL", 4.2),
        (4200, "/mm3", 4.2),
        (4200, "{cells}/uL", 4.2),
        (4.2, "10*3/mm3", 4.2),
        (4.2, "/nL", 4.2),
        (4200000000, "/L", 4.2),
    ],
)
def test_ucum_codes_are_read_through_the_parser(value: float, ucum: str, expected: float) -> None:
    result = from_fhir(_observation(value, ucum), age=40, sex="female")
    assert result.count.value == pytest.approx(expected)


def test_unit_text_is_used_when_the_code_is_missing_or_not_ucum() -> None:
    no_code = _observation(4200, None)
    no_code["valueQuantity"]["unit"] = "cells/mcL"
    assert from_fhir(no_code, age=40).count.value == pytest.approx(4.2)
    local = _observation(4.2, "K/uL", code="WBC-K", system="http://lab.example/units")
    assert from_fhir(local, age=40).count.value == pytest.approx(4.2)


def test_a_local_code_is_tried_as_a_spelling_when_there_is_no_unit_text() -> None:
    resource = _observation(4.2, None, system=None)
    resource["valueQuantity"].update(system="http://lab.example/units", code="K/uL")
    result = from_fhir(resource, age=40)
    assert result.count.unit == "10*3/uL"


def test_the_code_wins_over_the_unit_text() -> None:
    resource = _observation(4200, "thousand per microlitre", code="/uL")
    assert from_fhir(resource, age=40).count.value == pytest.approx(4.2)


def test_a_value_without_any_unit_is_taken_as_1e9_per_litre_with_a_warning() -> None:
    result = from_fhir(_observation(4.2, None, system=None), age=40)
    assert result.count.value == 4.2
    assert result.warnings


@pytest.mark.parametrize("loinc", ["6690-2", "26464-8"])
def test_both_wbc_loinc_codes_are_accepted(loinc: str) -> None:
    assert from_fhir(_observation(loinc=loinc), age=40, sex="male").flag == "low"


@pytest.mark.parametrize("loinc", ["718-7", "6690", "2345-7"])
def test_other_codes_are_refused_with_a_clear_error(loinc: str) -> None:
    with pytest.raises(FHIRError, match=f"not a white blood cell count.*{loinc}.*6690-2"):
        from_fhir(_observation(loinc=loinc))


def test_a_wbc_code_in_another_system_is_refused() -> None:
    resource = _observation()
    resource["code"]["coding"][0]["system"] = "http://snomed.info/sct"
    with pytest.raises(FHIRError, match="snomed"):
        from_fhir(resource)


@pytest.mark.parametrize(
    ("resource", "error"),
    [
        ({"resourceType": "Patient"}, FHIRError),
        ({"no": "type"}, FHIRError),
        ("not json", FHIRError),
        ("[1, 2]", FHIRError),
        (_observation(4.2, "mg/dL"), UnitError),
        (_observation(4.2, "%"), UnitError),
        (_observation("abc"), ParseError),
        (_observation(-1), ParseError),
        (_observation(True), FHIRError),
        (_observation(None), FHIRError),
        ({**_observation(), "status": "entered-in-error"}, FHIRError),
        ({k: v for k, v in _observation().items() if k != "valueQuantity"}, FHIRError),
    ],
)
def test_bad_resources_raise_cbc_errors(resource: Any, error: type[CBCError]) -> None:
    with pytest.raises(error):
        from_fhir(resource)


def test_an_unknown_comparator_is_refused() -> None:
    resource = _observation(1.0)
    resource["valueQuantity"]["comparator"] = "~"
    with pytest.raises(FHIRError, match="comparator"):
        from_fhir(resource)


def test_data_absent_reason_is_named() -> None:
    resource = {k: v for k, v in _observation().items() if k != "valueQuantity"}
    resource["dataAbsentReason"] = {"coding": [{"code": "error"}]}
    with pytest.raises(FHIRError, match="dataAbsentReason: error"):
        from_fhir(resource)


def test_a_censored_value_is_read_with_its_comparator() -> None:
    resource = _observation(1.0)
    resource["valueQuantity"]["comparator"] = "<"
    result = from_fhir(resource, age=40, sex="female")
    assert (result.count.comparator, result.count.value, result.flag) == ("<", 1.0, "low")


def test_value_string_is_read() -> None:
    resource = {k: v for k, v in _observation().items() if k != "valueQuantity"}
    resource["valueString"] = "4200 cells/µL"
    assert from_fhir(resource, age=40).count.value == pytest.approx(4.2)


def test_a_preliminary_observation_is_read_with_a_warning() -> None:
    result = from_fhir({**_observation(), "status": "preliminary"}, age=40)
    assert any("preliminary" in warning for warning in result.warnings)


def test_json_text_and_model_objects_are_accepted() -> None:
    resource = _observation(3.1)
    expected = from_fhir(resource, age=40, sex="female")
    assert from_fhir(json.dumps(resource), age=40, sex="female") == expected
    model = Observation.model_validate(resource)
    assert from_fhir(model, age=40, sex="female") == expected


def test_the_input_is_not_modified() -> None:
    resource = _observation(3.1)
    before = copy.deepcopy(resource)
    from_fhir(resource, age=40)
    assert resource == before


# ------------------------------------------------------------------ Bundles


def _bundle(
    observation: dict[str, Any], patient: dict[str, Any] | None = None, *more: dict[str, Any]
) -> dict[str, Any]:
    entries = [{"resource": resource} for resource in (patient, observation, *more) if resource]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", **fields}


def test_bundle_gives_sex_and_age_from_patient_and_effective_date() -> None:
    bundle = _bundle(
        _observation(11.5, effectiveDateTime="2026-06-15"),
        _patient(gender="female", birthDate="1990-06-15"),
    )
    Bundle.model_validate(bundle)
    result = from_fhir(bundle)
    assert result.person.sex == "female"
    assert result.person.age_years == 36
    # 11.5 is above the adult female high of 11.0
    assert result.flag == "high"


def test_an_18th_birthday_on_the_day_of_the_test_is_adult() -> None:
    bundle = _bundle(
        _observation(4.8, effectiveDateTime="2026-11-22T08:00:00+01:00"),
        _patient(gender="male", birthDate="2008-11-22"),
    )
    result = from_fhir(bundle)
    assert result.person.age_years == 18
    assert result.leukopenia is False


def test_the_day_before_the_18th_birthday_is_a_child() -> None:
    bundle = _bundle(
        _observation(4.8, effectiveDateTime="2026-11-21"),
        _patient(gender="male", birthDate="2008-11-22"),
    )
    result = from_fhir(bundle)
    assert result.person.age_years is not None and 17 < result.person.age_years < 18
    assert result.leukopenia is None


def test_keyword_arguments_win_over_the_patient() -> None:
    bundle = _bundle(
        _observation(4.7, effectiveDateTime="2026-01-01"),
        _patient(gender="female", birthDate="2000-01-01"),
    )
    result = from_fhir(bundle, sex="male", age=50)
    assert (result.person.sex, result.person.age_years) == ("male", 50)
    # 4.7 is low against the male range (5.0-10.0) but normal for a female
    assert result.flag == "low"
    assert from_fhir(bundle).flag == "normal"


@pytest.mark.parametrize("gender", ["other", "unknown"])
def test_other_genders_are_unknown_sex(gender: str) -> None:
    bundle = _bundle(_observation(effectiveDateTime="2026-01-01"), _patient(gender=gender))
    assert from_fhir(bundle).person.sex == "unknown"


def test_effective_period_and_issued_are_used_when_there_is_no_effective_date_time() -> None:
    patient = _patient(birthDate="2016-01-01")
    period = _observation(effectivePeriod={"start": "2026-01-01T10:00:00Z"})
    issued = _observation(issued="2026-01-01T10:00:00Z")
    assert from_fhir(_bundle(period, patient)).person.age_years == 10
    assert from_fhir(_bundle(issued, patient)).person.age_years == 10


def test_without_an_effective_date_the_age_is_unknown_and_said_so() -> None:
    result = from_fhir(_bundle(_observation(), _patient(birthDate="1980-01-01")))
    assert result.person.age_years is None
    assert any("effective date" in warning for warning in result.warnings)


def test_a_birth_year_alone_gives_the_youngest_possible_age() -> None:
    bundle = _bundle(_observation(effectiveDateTime="2026-06-01"), _patient(birthDate="2008"))
    result = from_fhir(bundle)
    # born at the latest on 2008-12-31: 17 on 2026-06-01, not 18
    assert result.person.age_years is not None and 17 < result.person.age_years < 18
    assert any("birth date gives only the year" in warning for warning in result.warnings)


def test_an_observation_dated_by_year_alone_gives_the_youngest_age_and_says_so() -> None:
    bundle = _bundle(_observation(effectiveDateTime="2026"), _patient(birthDate="2008-06-01"))
    result = from_fhir(bundle)
    assert result.person.age_years is not None and 17 < result.person.age_years < 18
    assert any("date gives only the year" in warning for warning in result.warnings)


def test_an_observation_before_birth_is_refused() -> None:
    bundle = _bundle(_observation(effectiveDateTime="2000-01-01"), _patient(birthDate="2001-01-01"))
    with pytest.raises(FHIRError, match="before the birth date"):
        from_fhir(bundle)


def test_bundle_picks_the_wbc_observation_and_the_subject_patient() -> None:
    hemoglobin = _observation(13.5, "g/dL", loinc="718-7")
    wbc = _observation(4.7, effectiveDateTime="2026-01-01", subject={"reference": "Patient/p2"})
    bundle = _bundle(
        wbc,
        _patient(gender="male", birthDate="1970-01-01"),
        hemoglobin,
        {"resourceType": "Patient", "id": "p2", "gender": "female", "birthDate": "1980-01-01"},
    )
    result = from_fhir(bundle)
    assert (result.person.sex, result.person.age_years) == ("female", 46)


def test_bundle_with_two_wbc_observations_is_refused() -> None:
    with pytest.raises(FHIRError, match="2 white blood cell count Observations"):
        from_fhir(_bundle(_observation(), None, _observation()))


def test_bundle_with_only_another_observation_names_its_code() -> None:
    with pytest.raises(FHIRError, match="718-7"):
        from_fhir(_bundle(_observation(loinc="718-7")))


def test_bundle_with_two_patients_and_no_subject_is_refused() -> None:
    bundle = _bundle(_observation(), _patient(), {"resourceType": "Patient", "id": "p2"})
    with pytest.raises(FHIRError, match="2 Patients"):
        from_fhir(bundle)


def test_us_core_race_text_is_the_ethnicity() -> None:
    race = {
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        "extension": [
            {
                "url": "ombCategory",
                "valueCoding": {
                    "system": "urn:oid:2.16.840.1.113883.6.238",
                    "code": "2054-5",
                    "display": "Black or African American",
                },
            },
            {"url": "text", "valueString": "African American"},
        ],
    }
    bundle = _bundle(_observation(effectiveDateTime="2026-01-01"), _patient(extension=[race]))
    result = from_fhir(bundle)
    assert result.person.ethnicity_text == "African American"
    assert from_fhir(bundle, ethnicity="Irish").person.ethnicity_text == "Irish"


@settings(max_examples=100, deadline=None)
@given(
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.text(max_size=12),
        st.none(),
        st.booleans(),
    ),
    unit=st.one_of(st.none(), st.text(max_size=10), st.sampled_from(["10*9/L", "/uL", "mg/dL"])),
    comparator=st.one_of(st.none(), st.sampled_from(["<", ">", "~", ""])),
)
def test_any_value_quantity_gives_a_result_or_a_cbc_error(
    value: Any, unit: str | None, comparator: str | None
) -> None:
    resource = _observation(value, unit)
    if comparator is not None:
        resource["valueQuantity"]["comparator"] = comparator
    try:
        result = from_fhir(resource, age=40)
    except CBCError:
        return
    assert result.count.value >= 0


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(
        ["code", "valueQuantity", "valueString", "status", "effectiveDateTime", "subject"]
    ),
    junk=_json,
    in_bundle=st.booleans(),
    patient=st.dictionaries(
        st.sampled_from(["gender", "birthDate", "extension", "id"]), _json, max_size=3
    ),
)
def test_any_junk_in_any_field_gives_a_result_or_a_cbc_error(
    field: str, junk: Any, in_bundle: bool, patient: dict[str, Any]
) -> None:
    resource: Any = {**_observation(effectiveDateTime="2026-01-01"), field: junk}
    if in_bundle:
        resource = _bundle(resource, {"resourceType": "Patient", **patient})
    try:
        result = from_fhir(resource)
    except CBCError as error:
        assert str(error)  # a message to show, whatever went wrong
    else:
        assert "not a diagnosis" in result.text


@settings(max_examples=200, deadline=None)
@example(birth=dt.date(2024, 2, 29), days=365)  # 2025-02-28: one year
@example(birth=dt.date(2024, 2, 29), days=364)  # 2025-02-27: not yet
@given(
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=40_000),
)
def test_the_age_from_a_bundle_counts_completed_years(birth: dt.date, days: int) -> None:
    effective = birth + dt.timedelta(days=days)
    bundle = _bundle(
        _observation(effectiveDateTime=effective.isoformat()),
        _patient(birthDate=birth.isoformat()),
    )
    age = from_fhir(bundle).person.age_years
    assert age is not None
    # born 29 February: the year completes on 28 February in a common year (people.Age)
    birthday = (birth.month, min(birth.day, 28 if birth.month == 2 else 31))
    leap = effective.year % 4 == 0 and (effective.year % 100 != 0 or effective.year % 400 == 0)
    if birth.month == 2 and birth.day == 29 and leap:
        birthday = (2, 29)
    completed = effective.year - birth.year - ((effective.month, effective.day) < birthday)
    assert completed <= age < completed + 1


# ------------------------------------------------------------------ reliability


def _deep(depth: int) -> Any:
    nested: Any = 4.2
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        '{"resourceType": "Observation", "code": ' + "[" * 50_000 + "]" * 50_000 + "}",
    ],
    ids=["arrays", "objects", "inside"],
)
def test_json_nested_too_deeply_is_a_fhir_error(text: str) -> None:
    with pytest.raises(FHIRError, match="nested too deeply"):
        from_fhir(text)


@pytest.mark.parametrize("field", ["value", "comparator"])
def test_a_deeply_nested_value_is_a_cbc_error_with_a_short_message(field: str) -> None:
    resource = _observation(4.2)
    resource["valueQuantity"][field] = _deep(5_000)
    with pytest.raises(CBCError) as error:
        from_fhir(resource, age=40)
    assert len(str(error.value)) < 300


def test_a_deeply_nested_unit_text_is_passed_over_for_the_code() -> None:
    resource = _observation(4.2)
    resource["valueQuantity"]["unit"] = _deep(5_000)
    assert from_fhir(resource, age=40).count.value == 4.2


def test_a_deeply_nested_code_and_subject_are_named_briefly() -> None:
    resource = _observation()
    resource["code"]["coding"][0]["code"] = _deep(5_000)
    with pytest.raises(FHIRError, match="not a white blood cell count") as error:
        from_fhir(resource)
    assert len(str(error.value)) < 300
    bundle = _bundle(
        _observation(subject={"reference": _deep(5_000)}),
        _patient(id=_deep(5_000)),
        {"resourceType": "Patient", "id": "p2"},
    )
    with pytest.raises(FHIRError, match="2 Patients"):
        from_fhir(bundle)


@pytest.mark.parametrize("as_text", [False, True])
def test_a_400_digit_value_is_a_fhir_error_not_an_overflow(as_text: bool) -> None:
    resource: Any = _observation(int("9" * 400))
    if as_text:
        resource = json.dumps(resource)
    with pytest.raises(FHIRError, match="too large"):
        from_fhir(resource, age=40)


def test_a_400_digit_value_integer_is_a_fhir_error() -> None:
    resource = {k: v for k, v in _observation().items() if k != "valueQuantity"}
    resource["valueInteger"] = 10**400
    with pytest.raises(FHIRError, match="too large"):
        from_fhir(resource, age=40)


def test_a_number_json_cannot_even_read_is_a_fhir_error() -> None:
    text = json.dumps(_observation(1)).replace('"value": 1', '"value": ' + "9" * 5000)
    with pytest.raises(FHIRError, match="not FHIR JSON"):
        from_fhir(text)


def test_1e400_in_json_is_infinite_and_refused() -> None:
    text = json.dumps(_observation(1)).replace('"value": 1', '"value": 1e400')
    with pytest.raises(CBCError):
        from_fhir(text, age=40)


def test_a_birth_month_in_the_last_month_python_has_is_an_age_or_a_fhir_error() -> None:
    # was: ValueError: year 10000 is out of range (the end of December was the next 1 January)
    bundle = _bundle(_observation(effectiveDateTime="9999-12-31"), _patient(birthDate="9999-12"))
    try:
        result = from_fhir(bundle)
    except FHIRError as error:
        assert "9999-12-31" in str(error)
    else:
        assert result.person.age_years == 0


@pytest.mark.parametrize(
    ("birth", "effective"),
    [
        ("9999", "9999-06-01"),
        ("9999-01-01", "9999-12-31"),
        ("0001-01-01", "0001-01-02"),
    ],
)
def test_dates_at_the_ends_of_the_calendar_give_an_age(birth: str, effective: str) -> None:
    bundle = _bundle(_observation(effectiveDateTime=effective), _patient(birthDate=birth))
    age = from_fhir(bundle).person.age_years
    assert age is not None and 0 <= age <= 1


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("birthDate", "10000-01-01"),  # was read as the year 1000
        ("birthDate", "0000-01-01"),
        ("birthDate", "2024-02-30"),
        ("birthDate", "2024-13"),
        ("birthDate", "2024-01-0812"),
        ("birthDate", "２０２４-01-01"),  # fullwidth digits: not a FHIR date
        ("effectiveDateTime", "99999-01-01T00:00:00Z"),
        ("effectiveDateTime", "2024-00-01"),
    ],
)
def test_a_date_python_cannot_represent_or_fhir_does_not_allow_is_a_fhir_error(
    field: str, text: str
) -> None:
    observation = _observation(effectiveDateTime="2026-01-01")
    patient = _patient(birthDate="2000-01-01")
    (patient if field == "birthDate" else observation)[field] = text
    with pytest.raises(FHIRError, match=field):
        from_fhir(_bundle(observation, patient))


@pytest.mark.parametrize("junk", [5, 4.2, None, ["a list"], object()])
def test_a_wrong_python_type_is_a_type_error_naming_the_parameter(junk: Any) -> None:
    with pytest.raises(TypeError, match=r"'observation' must be a dict, JSON text .*model_dump"):
        from_fhir(junk)


def test_the_code_wins_over_a_unit_text_1000_times_apart_with_a_warning() -> None:
    resource = _observation(4.2, "/uL", code="10*3/uL")
    result = from_fhir(resource, age=40, sex="female")
    assert result.count.value == pytest.approx(4.2)
    (warning,) = [w for w in result.warnings if "disagree" in w]
    assert "'10*3/uL'" in warning and "'/uL'" in warning and "1,000" in warning
    assert "UCUM code was used" in warning


@pytest.mark.parametrize(("code", "unit"), [("10*3/uL", "K/uL"), ("/uL", "cells/uL")])
def test_a_code_and_unit_text_that_agree_give_no_warning(code: str, unit: str) -> None:
    result = from_fhir(_observation(4.2 if "3" in code else 4200, unit, code=code), age=40)
    assert not [w for w in result.warnings if "disagree" in w]


def test_a_unit_text_in_words_is_not_compared() -> None:
    resource = _observation(4200, "cells per microlitre of blood", code="/uL")
    assert not [w for w in from_fhir(resource, age=40).warnings if "disagree" in w]


@pytest.mark.parametrize(
    ("fields", "words", "after"),
    [
        ({"deceasedBoolean": True}, "recorded as deceased", False),
        ({"deceasedDateTime": "2025-03-01"}, "deceasedDateTime 2025-03-01", True),
        ({"deceasedDateTime": "2026-02-01T10:00:00Z"}, "deceasedDateTime 2026-02-01", False),
        ({"deceasedDateTime": "not a date"}, "recorded as deceased", False),
    ],
)
def test_a_deceased_patient_gives_a_warning(
    fields: dict[str, Any], words: str, after: bool
) -> None:
    bundle = _bundle(
        _observation(effectiveDateTime="2026-01-01"),
        _patient(gender="female", birthDate="1980-01-01", **fields),
    )
    result = from_fhir(bundle)
    (warning,) = [w for w in result.warnings if "deceased" in w]
    assert words in warning
    assert ("dated after the death" in warning) == after


def test_a_bad_observation_date_is_not_an_error_when_the_age_is_given() -> None:
    bundle = _bundle(
        _observation(effectiveDateTime="not a date"),
        _patient(birthDate="1980-01-01", deceasedBoolean=True),
    )
    result = from_fhir(bundle, age=40)
    assert result.person.age_years == 40
    assert [w for w in result.warnings if "deceased" in w]
    with pytest.raises(FHIRError, match="effectiveDateTime"):
        from_fhir(bundle)


def test_a_living_patient_gives_no_deceased_warning() -> None:
    bundle = _bundle(
        _observation(effectiveDateTime="2026-01-01"),
        _patient(birthDate="1980-01-01", deceasedBoolean=False),
    )
    assert not [w for w in from_fhir(bundle).warnings if "deceased" in w]


def test_a_child_seen_7_days_after_birth_gets_the_range_of_7_days() -> None:
    bundle = _bundle(
        _observation(12.0, effectiveDateTime="2024-01-08"), _patient(birthDate="2024-01-01")
    )
    from_dates = from_fhir(bundle)
    spoken = interpret("12.0", "10*9/L", age="7 days")
    assert from_dates.reference is not None
    assert from_dates.reference == spoken.reference
    assert (from_dates.flag, from_dates.leukopenia_threshold) == (
        spoken.flag,
        spoken.leukopenia_threshold,
    )
    assert from_dates.person.age_years == pytest.approx(spoken.person.age_years, abs=0.01)


def _finite_or_not() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=150, deadline=None)
@given(
    value=_finite_or_not(),
    low=st.none() | _finite_or_not(),
    high=st.none() | _finite_or_not(),
    age_from=st.none() | _finite_or_not(),
    age_to=st.none() | _finite_or_not(),
)
def test_to_fhir_is_always_strict_json(
    value: float, low: float | None, high: float | None, age_from: float | None,
    age_to: float | None,
) -> None:  # fmt: skip
    reference = ReferenceRange(
        low=low, high=high, population=Population(age_from=age_from, age_to=age_to), source=SOURCE
    )
    result = _hand_built(
        value, flag="indeterminate", code=None, leukopenia=None, reference=reference
    )
    resource = result.to_fhir()
    text = json.dumps(resource, allow_nan=False)  # raises on NaN or infinity
    observation = _validate(resource)
    if math.isfinite(value):
        assert float(observation.valueQuantity.value) == pytest.approx(value, rel=1e-11)
    else:
        assert observation.valueQuantity is None
        assert observation.dataAbsentReason.coding[0].code in text


_hostile = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(
        ["9999-12", "9999", "10000-01-01", "0000", "2024-02-30", "2024-13", "２０２４", "T"]
    ),
    st.builds(_deep, st.integers(min_value=1, max_value=3_000)),
    st.none(),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    observation_field=st.sampled_from(
        ["effectiveDateTime", "issued", "status", "valueQuantity", "subject", "code"]
    ),
    observation_junk=_hostile,
    patient=st.dictionaries(
        st.sampled_from(["birthDate", "gender", "deceasedBoolean", "deceasedDateTime", "id"]),
        _hostile,
        max_size=3,
    ),
    value=_hostile,
)
def test_hostile_content_gives_a_result_or_a_cbc_error(
    observation_field: str, observation_junk: Any, patient: dict[str, Any], value: Any
) -> None:
    observation = _observation(value, effectiveDateTime="2026-01-01")
    observation[observation_field] = observation_junk
    bundle = _bundle(observation, {"resourceType": "Patient", **patient})
    try:
        result = from_fhir(bundle)
    except CBCError as error:
        assert len(str(error)) < 1_000
    else:
        json.dumps(result.to_fhir(), allow_nan=False)


@pytest.mark.parametrize(
    ("value", "unit", "analyte", "code", "ucum"),
    [
        ("4.2", "K/uL", "wbc", "6690-2", "10*9/L"),
        ("2.1", "K/uL", "neutrophils", "751-8", "10*9/L"),
        ("58", "%", "neutrophils", "770-8", "%"),
        ("1.9", "10^9/L", "lymphocytes", "731-0", "10*9/L"),
        ("0.04", "10^9/L", "basophils", "704-7", "10*9/L"),
    ],
)
def test_the_observation_carries_the_analytes_loinc_code(
    value: str, unit: str, analyte: str, code: str, ucum: str
) -> None:
    from cbc_ranges.analytes import get_analyte

    observation = interpret(value, unit, analyte=analyte, age=40).to_fhir()
    coding = observation["code"]["coding"][0]
    assert (coding["system"], coding["code"]) == ("http://loinc.org", code)
    assert coding["display"] == get_analyte(analyte).loinc_names[code]
    assert observation["valueQuantity"]["code"] == ucum
    json.dumps(observation, allow_nan=False)


# ------------------------------------------------------------------ out, with options

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1986-05-01"}


@pytest.mark.parametrize(
    ("value", "unit", "age", "sex", "birth", "effective"),
    [
        ("3.1", "K/uL", 40, "female", "1986-05-01", "2026-05-01"),
        ("7.4", "K/uL", 35, "male", "1990-01-15", dt.date(2025, 1, 15)),
        ("12", "10*9/L", "6 months", "male", "2025-09-01", "2026-03-01T10:00:00Z"),
        ("14.5", "G/L", "7 days", "female", "2026-01-01", dt.date(2026, 1, 8)),
        ("<1.0", "10*9/L", 60, "female", "1965-07-01", "2025-07-01T08:00:00+02:00"),
    ],
)
def test_a_result_with_its_patient_round_trips_through_a_bundle(
    value: str, unit: str, age: Any, sex: str, birth: str, effective: Any
) -> None:
    result = interpret(value, unit, age=age, sex=sex)
    patient = {"resourceType": "Patient", "id": "p1", "gender": sex, "birthDate": birth}
    bundle = result.to_fhir(subject=patient, effective=effective)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    Bundle.model_validate_json(json.dumps(bundle))
    (patient_entry, observation_entry) = bundle["entry"]
    assert patient_entry["resource"] == patient
    observation = observation_entry["resource"]
    assert observation["subject"] == {"reference": "Patient/p1"}
    _validate(observation)
    again = from_fhir(bundle)  # no keywords: the person comes from the Patient
    assert (again.flag, again.code, again.reference) == (result.flag, result.code, result.reference)
    assert again.person.sex == result.person.sex
    # the same age as people say it ("35 years", "7 days"); the exact days and years
    # may differ (35 calendar years are 12784 days, age=35 reads as 35 x 365.25)
    assert again.person.age == result.person.age
    assert again.leukopenia_threshold == result.leukopenia_threshold


def test_the_patient_given_is_not_changed_and_one_without_id_gets_a_stable_urn() -> None:
    patient = {"resourceType": "Patient", "gender": "male", "birthDate": "1980-02-01"}
    before = copy.deepcopy(patient)
    result = interpret("7.4", "K/uL", age=46, sex="male")
    bundle = result.to_fhir(subject=patient, effective="2026-02-01")
    assert patient == before
    patient_entry, observation_entry = bundle["entry"]
    url = patient_entry["fullUrl"]
    assert url.startswith("urn:uuid:")
    assert observation_entry["resource"]["subject"] == {"reference": url}
    assert result.to_fhir(subject=patient, effective="2026-02-01") == bundle  # reproducible
    other = result.to_fhir(subject={**patient, "gender": "female"}, effective="2026-02-01")
    assert other["entry"][0]["fullUrl"] != url
    Bundle.model_validate_json(json.dumps(bundle))
    assert from_fhir(bundle).person.age_years == 46


def test_subject_effective_id_and_performer_go_where_fhir_puts_them() -> None:
    result = interpret("3.1", "K/uL", age=40, sex="female")
    observation = result.to_fhir(
        subject="Patient/123",
        effective=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone.utc),
        id="wbc-2026-03-01",
        performer="Organization/lab-1",
    )
    model = _validate(observation)
    assert model.id == "wbc-2026-03-01"
    assert model.subject.reference == "Patient/123"
    assert observation["effectiveDateTime"] == "2026-03-01T09:30:00+00:00"
    assert model.performer[0].reference == "Organization/lab-1"
    assert list(observation)[:3] == ["resourceType", "id", "meta"]
    assert from_fhir(observation, age=40, sex="female").flag == result.flag


def test_a_reference_dict_is_kept_as_given() -> None:
    reference = {"reference": "Patient/9", "display": "A. Person"}
    observation = interpret("3.1", "K/uL", age=40).to_fhir(subject=reference)
    assert _validate(observation).subject.display == "A. Person"


@pytest.mark.parametrize(
    "effective",
    ["2026", "2026-03", "2026-03-01", "2026-03-01T09:30:00Z", "2026-03-01T09:30:00.123-05:00",
     dt.date(2024, 2, 29)],
)  # fmt: skip
def test_each_form_of_effective_is_a_fhir_date_time(effective: Any) -> None:
    observation = interpret("3.1", "K/uL", age=40).to_fhir(effective=effective)
    assert _validate(observation).effectiveDateTime is not None


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"effective": "2024-02-30"}, "not a FHIR dateTime"),
        ({"effective": "01/03/2026"}, "not a FHIR dateTime"),
        ({"effective": "2026-03-01T09:30"}, "not a FHIR dateTime"),
        ({"effective": "2026-03-01T09:30:00"}, "not a FHIR dateTime"),
        ({"effective": dt.datetime(2026, 3, 1, 9, 30)}, "no time zone"),
        ({"id": "has space"}, "not a FHIR id"),
        ({"id": "x" * 65}, "not a FHIR id"),
        ({"id": ""}, "not a FHIR id"),
        ({"subject": ""}, "not a FHIR reference"),
        ({"subject": " Patient/1"}, "not a FHIR reference"),
        ({"subject": {"resourceType": "Practitioner", "id": "x"}}, "'Practitioner' resource"),
        ({"subject": {"resourceType": "Patient", "id": "bad id"}}, "not a FHIR id"),
        ({"subject": {"type": "Patient"}}, "not a FHIR Reference"),
        ({"performer": "\n"}, "not a FHIR reference"),
    ],
)
def test_an_option_fhir_cannot_hold_is_a_fhir_error(options: dict[str, Any], words: str) -> None:
    with pytest.raises(FHIRError, match=words):
        interpret("3.1", "K/uL", age=40).to_fhir(**options)


@pytest.mark.parametrize(
    "options", [{"effective": 20260301}, {"id": 7}, {"subject": 123}, {"performer": ["x"]}]
)
def test_an_option_of_the_wrong_type_is_a_type_error(options: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match=next(iter(options))):
        interpret("3.1", "K/uL", age=40).to_fhir(**options)


def _observation_with_range(value: float, unit: str, low: float | None, high: float | None,
                            code: str | None = None) -> dict[str, Any]:  # fmt: skip
    reference: dict[str, Any] = {}
    if low is not None:
        reference["low"] = {"value": low, "unit": unit, "code": unit}
    if high is not None:
        reference["high"] = {"value": high, "unit": unit, "code": unit}
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "code": unit,
            "system": "http://unitsofmeasure.org",
        },
        "referenceRange": [reference],
    }
    if code is not None:
        observation["interpretation"] = [{"coding": [{"code": code}]}]
    return observation


@pytest.mark.parametrize("unit", ["10*3/uL", "/uL"])
def test_the_observations_own_range_decides_the_flag(unit: str) -> None:
    """The measured case: a lab range of 3.5-10.5 with N came back low with no warning."""
    scale = 1000 if unit == "/uL" else 1
    observation = _observation_with_range(4.2 * scale, unit, 3.5 * scale, 10.5 * scale, "N")
    result = from_fhir(observation, age=40, sex="male")
    assert result.reference is not None
    assert (result.reference.low, result.reference.high) == (3.5, 10.5)
    assert (result.flag, result.table_flag) == ("normal", "low")
    assert any("would give low" in w for w in result.warnings)
    assert not any("own interpretation" in w for w in result.warnings)


def test_a_disagreeing_interpretation_of_the_observation_is_warned() -> None:
    observation = _observation_with_range(4.2, "10*3/uL", 4.5, 11.0, "N")
    result = from_fhir(observation, age=40, sex="female")
    assert result.flag == "low"
    assert any("own interpretation is 'N'" in w for w in result.warnings)


def test_a_range_for_another_population_or_without_figures_is_not_used() -> None:
    observation = _observation_with_range(4.2, "10*3/uL", 3.5, 10.5)
    observation["referenceRange"][0]["appliesTo"] = [{"text": "pregnant women"}]
    assert from_fhir(observation, age=40, sex="female").table_flag is None
    bare = _observation_with_range(4.2, "10*3/uL", None, None)
    assert from_fhir(bare, age=40, sex="female").reference.source.id == "cleveland-2022"  # type: ignore[union-attr]
