"""from_fhir for every analyte: the differential's counts and percentages, Bundles of a
panel, and the range table named in the Observation's meta.tag."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cbc_ranges import interpret
from cbc_ranges.analytes import analytes
from cbc_ranges.errors import FHIRError, UnitError
from cbc_ranges.fhir import from_fhir
from cbc_ranges.formats.fhir import (
    LIBRARY_VERSION_SYSTEM,
    LOINC_SYSTEM,
    RANGE_TABLE_SHA256_SYSTEM,
    RANGE_TABLE_SYSTEM,
    UCUM_SYSTEM,
)


def _observation(value: float, unit: str, loinc: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": loinc}]},
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM_SYSTEM, "code": unit},
        **more,
    }


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": resource} for resource in resources],
    }


_COUNTED = [a.id for a in analytes().values() if a.loinc]


@pytest.mark.parametrize("analyte", _COUNTED)
@pytest.mark.parametrize("value", [0.05, 0.4, 1.2, 3.0, 9.0, 30.0])
def test_every_analyte_count_round_trips(analyte: str, value: float) -> None:
    result = interpret(value, unit="10^9/L", analyte=analyte, age=40, sex="female")
    again = from_fhir(result.to_fhir(), age=40, sex="female")
    assert again.analyte == analyte
    assert (again.flag, again.code, again.reference) == (result.flag, result.code, result.reference)
    assert again.count.value == pytest.approx(result.count.value)


def test_a_percentage_becomes_a_count_with_the_wbc_given() -> None:
    observation = _observation(50, "%", "770-8")
    result = from_fhir(observation, wbc="4.0 K/uL", age=40, sex="male")
    assert result.analyte == "neutrophils"
    assert result.percentage == 50
    assert result.count.value == pytest.approx(2.0)
    direct = interpret("50", unit="%", analyte="neutrophils", wbc="4.0 K/uL", age=40, sex="M")
    assert (result.flag, result.reference) == (direct.flag, direct.reference)


def test_a_percentage_in_a_bundle_takes_the_wbc_of_the_same_date() -> None:
    bundle = _bundle(
        _observation(9.0, "10*9/L", "6690-2", effectiveDateTime="2026-01-01"),
        _observation(3.0, "10*9/L", "6690-2", effectiveDateTime="2026-02-01"),
        _observation(20, "%", "770-8", effectiveDateTime="2026-02-01"),
    )
    result = from_fhir(bundle, analyte="neutrophils", age=40, sex="female")
    assert result.count.value == pytest.approx(0.6)  # 20 % of 3.0, not of 9.0
    assert result.flag == "low"


def test_a_percentage_without_a_wbc_is_read_as_a_percentage_and_says_so() -> None:
    result = from_fhir(_bundle(_observation(20, "%", "770-8")), age=40, sex="female")
    assert result.count.unit == "%"
    assert result.percentage is None
    assert any("no total white cell count" in w for w in result.warnings)


def test_a_bundle_of_a_panel_reads_the_wbc_unless_told() -> None:
    bundle = _bundle(
        _observation(0.9, "10*9/L", "751-8"),
        _observation(5.0, "10*9/L", "6690-2"),
        _observation(1.9, "10*9/L", "731-0"),
    )
    assert from_fhir(bundle, age=40).analyte == "wbc"
    neutrophils = from_fhir(bundle, analyte="ANC", age=40)
    assert (neutrophils.analyte, neutrophils.count.value) == ("neutrophils", 0.9)
    assert from_fhir(bundle, analyte="lymphocytes", age=40).count.value == 1.9


def test_a_bundle_of_several_differential_results_asks_which() -> None:
    bundle = _bundle(_observation(0.9, "10*9/L", "751-8"), _observation(1.9, "10*9/L", "731-0"))
    with pytest.raises(FHIRError, match=r"analyte=.*lymphocytes, neutrophils"):
        from_fhir(bundle)


def test_an_observation_of_another_analyte_than_asked_is_refused() -> None:
    with pytest.raises(FHIRError, match="neutrophils result, not wbc"):
        from_fhir(_observation(0.9, "10*9/L", "751-8"), analyte="wbc")


def test_a_percentage_code_with_a_count_unit_is_a_unit_error() -> None:
    with pytest.raises(UnitError, match="percentage"):
        from_fhir(_observation(2.0, "10*9/L", "770-8"))


def test_a_percentage_lab_range_is_turned_into_a_count_with_the_wbc() -> None:
    observation = _observation(
        50,
        "%",
        "770-8",
        referenceRange=[
            {
                "low": {"value": 60, "unit": "%", "system": UCUM_SYSTEM, "code": "%"},
                "high": {"value": 80, "unit": "%", "system": UCUM_SYSTEM, "code": "%"},
            }
        ],
    )
    result = from_fhir(observation, wbc=4.0, age=40, sex="female")
    # the lab's 60-80 % of 4.0 is 2.4-3.2: 2.0 is below it
    assert (result.reference.low, result.reference.high) == pytest.approx((2.4, 3.2))
    assert result.flag == "low"
    alone = from_fhir(observation, age=40, sex="female")
    assert (alone.reference.low, alone.reference.high) == (60, 80)
    assert alone.flag == "low"


# ------------------------------------------------------------------ meta.tag


def _tags(observation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tag["system"]: tag for tag in observation["meta"]["tag"]}


def test_the_table_named_in_meta_tag_is_used_when_none_is_given() -> None:
    # 4.2 for a woman: below the documents' 4.5 and inside the standard table's range
    made = interpret(4.2, age=40, sex="female", table="documents")
    again = from_fhir(made.to_fhir(), age=40, sex="female")
    assert again.table == made.table
    assert (again.reference, again.flag) == (made.reference, made.flag)
    assert not again.warnings


def test_a_table_given_wins_over_meta_tag() -> None:
    made = interpret(4.2, age=40, sex="female", table="documents")
    again = from_fhir(made.to_fhir(), age=40, sex="female", table="standard")
    assert again.table is not None and again.table.name == "standard"


def test_another_version_of_the_table_is_warned_about() -> None:
    observation = interpret(4.2, age=40, sex="female").to_fhir()
    _tags(observation)[RANGE_TABLE_SHA256_SYSTEM]["code"] = "0" * 64
    again = from_fhir(observation, age=40, sex="female")
    assert any("another version of the range table 'standard'" in w for w in again.warnings)


def test_a_table_this_library_does_not_ship_falls_back_with_a_warning() -> None:
    observation = interpret(4.2, age=40, sex="female").to_fhir()
    _tags(observation)[RANGE_TABLE_SYSTEM]["code"] = "my-lab-2019"
    again = from_fhir(observation, age=40, sex="female")
    assert again.table is not None and again.table.name == "standard"
    assert any("my-lab-2019" in w and "does not ship" in w for w in again.warnings)


def test_another_library_version_is_warned_about() -> None:
    observation = interpret(4.2, age=40, sex="female").to_fhir()
    original = copy.deepcopy(observation)
    _tags(observation)[LIBRARY_VERSION_SYSTEM]["code"] = "0.0.1"
    assert not from_fhir(original, age=40, sex="female").warnings
    again = from_fhir(observation, age=40, sex="female")
    assert any("cbc-ranges 0.0.1" in w for w in again.warnings)


def test_a_bundle_with_both_the_count_and_the_percentage_reads_the_count() -> None:
    bundle = _bundle(
        _observation(5.0, "10*9/L", "6690-2"),
        _observation(30, "%", "770-8"),
        _observation(1.4, "10*9/L", "751-8"),
    )
    result = from_fhir(bundle, analyte="neutrophils", age=40)
    assert (result.count.value, result.percentage) == (1.4, None)
    twice = _bundle(_observation(30, "%", "770-8"), _observation(31, "%", "770-8"))
    with pytest.raises(FHIRError, match="2 neutrophils Observations"):
        from_fhir(twice, analyte="neutrophils")
