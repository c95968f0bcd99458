"""Results an app can keep: provenance on every result, hashing, and plain JSON.

Every ``Interpretation`` names the cbc-ranges version that made it and, once
``interpret`` fills it, the range table with the SHA-256 of its file; JSON
carries them as plain fields, FHIR as ``meta.tag`` codings of the library's own
systems. Results hash by value, so they can be set members and dict keys.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation
from hypothesis import given, settings
from hypothesis import strategies as st

import cbc_ranges
from cbc_ranges import interpret
from cbc_ranges.formats import render
from cbc_ranges.formats.fhir import (
    LIBRARY_VERSION_SYSTEM,
    RANGE_TABLE_SHA256_SYSTEM,
    RANGE_TABLE_SYSTEM,
)
from cbc_ranges.models import (
    Count,
    Interpretation,
    Person,
    Source,
    TableInfo,
    construct_checked,
)

DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _hand_built(**more: Any) -> Interpretation:
    fields: dict[str, Any] = {
        "count": Count(value=3.1, unit="10*9/L"),
        "person": Person(age_years=40, sex="female"),
        "flag": "low",
        "code": "L",
        "leukopenia": True,
        "sources": [Source(id="s", title="A source", publisher="Someone")],
        "text": "Below the range. This is not a diagnosis.",
    }
    return Interpretation(**(fields | more))


def _tags(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tag["system"]: tag for tag in resource["meta"]["tag"]}


# ------------------------------------------------------------------ the fields


def test_the_provenance_fields_come_right_before_sources() -> None:
    names = list(Interpretation.model_fields)
    at = names.index("sources")
    assert names[at - 2 : at] == ["library_version", "table"]
    assert list(TableInfo.model_fields) == ["name", "sha256"]


def test_a_result_names_the_library_version_that_made_it() -> None:
    assert interpret("3.1", "K/uL", age=40).library_version == cbc_ranges.__version__
    assert _hand_built().library_version == cbc_ranges.__version__
    assert _hand_built().table is None


def test_the_table_when_given_names_the_table_used_with_a_hex_digest() -> None:
    # interpret fills ``table`` (the lead's part); until then it is None
    from cbc_ranges.ranges import get_table

    for table in (None, "documents"):
        result = interpret("3.1", "K/uL", age=40, table=table)
        if result.table is not None:
            assert result.table.name == get_table(table).name
            assert re.fullmatch("[0-9a-f]{64}", result.table.sha256)


def test_a_table_info_is_frozen_and_strict() -> None:
    info = TableInfo(name="standard", sha256=DIGEST)
    with pytest.raises(ValueError):
        info.name = "other"
    with pytest.raises(ValueError):
        TableInfo(name="standard", sha256=DIGEST, extra=1)  # type: ignore[call-arg]
    assert hash(info) == hash(TableInfo(name="standard", sha256=DIGEST))


def test_json_carries_the_provenance_as_plain_fields_and_reads_back() -> None:
    result = _hand_built(table=TableInfo(name="standard", sha256=DIGEST))
    data = render("json", result)
    assert isinstance(data, dict)
    assert data["library_version"] == cbc_ranges.__version__
    assert data["table"] == {"name": "standard", "sha256": DIGEST}
    assert Interpretation.model_validate(data) == result
    assert Interpretation.model_validate_json(result.model_dump_json()) == result


def test_json_of_an_earlier_version_without_provenance_still_reads() -> None:
    data = render("json", _hand_built())
    assert isinstance(data, dict)
    del data["library_version"], data["table"]
    again = Interpretation.model_validate(data)
    assert again.table is None
    assert again.library_version == cbc_ranges.__version__  # the default: this version


def test_the_schema_describes_the_provenance() -> None:
    schema = Interpretation.model_json_schema()
    assert schema["properties"]["library_version"]["type"] == "string"
    assert "TableInfo" in schema["$defs"]
    assert {"library_version", "table"}.isdisjoint(schema["required"])


# ------------------------------------------------------------------ FHIR


def test_fhir_tags_the_version_table_and_digest_with_the_librarys_own_systems() -> None:
    result = _hand_built(table=TableInfo(name="standard", sha256=DIGEST))
    resource = result.to_fhir()
    Observation.model_validate_json(json.dumps(resource))
    tags = _tags(resource)
    assert tags[LIBRARY_VERSION_SYSTEM]["code"] == cbc_ranges.__version__
    assert tags[LIBRARY_VERSION_SYSTEM]["display"] == f"cbc-ranges {cbc_ranges.__version__}"
    assert tags[RANGE_TABLE_SYSTEM]["code"] == "standard"
    assert tags[RANGE_TABLE_SHA256_SYSTEM]["code"] == DIGEST
    assert all(system.startswith("https://cbc-ranges.invalid/") for system in tags)


def test_fhir_without_a_table_tags_only_the_version() -> None:
    assert list(_tags(_hand_built().to_fhir())) == [LIBRARY_VERSION_SYSTEM]


def test_a_table_name_fhir_cannot_hold_as_a_code_is_tidied_and_kept_whole_in_display() -> None:
    name = "  my lab\t table  v2.csv "
    resource = _hand_built(table=TableInfo(name=name, sha256=DIGEST)).to_fhir()
    Observation.model_validate_json(json.dumps(resource))
    tag = _tags(resource)[RANGE_TABLE_SYSTEM]
    assert tag["code"] == "my lab table v2.csv"
    assert tag["display"] == f"range table {name}"


def test_empty_provenance_writes_no_empty_tag() -> None:
    resource = _hand_built(library_version="", table=TableInfo(name=" ", sha256="")).to_fhir()
    assert "meta" not in resource
    Observation.model_validate_json(json.dumps(resource))


def test_a_bundle_keeps_the_tags_on_the_observation() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    bundle = _hand_built().to_fhir(subject=patient)
    observation = bundle["entry"][1]["resource"]
    assert LIBRARY_VERSION_SYSTEM in _tags(observation)


# ------------------------------------------------------------------ construct_checked


def test_construct_checked_fills_left_out_fields_with_defaults_in_field_order() -> None:
    given_fields = {
        name: getattr(_hand_built(), name)
        for name in Interpretation.model_fields
        if name not in ("library_version", "table", "summary", "limits")
    }
    built = construct_checked(Interpretation, dict(given_fields))
    validated = Interpretation(**given_fields)
    assert list(built.__dict__) == list(Interpretation.model_fields)
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    assert repr(built) == repr(validated)
    assert built.model_dump_json() == validated.model_dump_json()
    assert (
        built.limits == []
        and built.limits is not construct_checked(Interpretation, dict(given_fields)).limits
    )  # a fresh list each time, as default_factory gives


def test_construct_checked_with_every_field_is_the_fast_path() -> None:
    result = _hand_built(table=TableInfo(name="t", sha256=DIGEST))
    fields = dict(result.__dict__)
    built = construct_checked(Interpretation, fields)
    assert built.__dict__ is fields  # not copied
    assert built == result
    assert built.model_fields_set == set(Interpretation.model_fields)


# ------------------------------------------------------------------ hashing


def test_equal_results_hash_equal_and_work_as_set_members_and_keys() -> None:
    first = interpret("3.1", "K/uL", age=40, sex="female")
    again = interpret("3.1", "10*9/L", age=40, sex="F")
    copied = Interpretation.model_validate_json(first.model_dump_json())
    assert first == copied and hash(first) == hash(copied)
    other = interpret("7.4", "K/uL", age=40, sex="female")
    assert len({first, copied, other}) == 2
    counts = {first: 1}
    counts[copied] = counts.get(copied, 0) + 1
    assert counts == {first: 2}
    if again == first:
        assert hash(again) == hash(first)


def test_the_hash_follows_equality_for_numbers_that_print_differently() -> None:
    zero = _hand_built(count=Count(value=0.0, unit="10*9/L"))
    minus_zero = _hand_built(count=Count(value=-0.0, unit="10*9/L"))
    assert zero == minus_zero
    assert zero.model_dump_json() != minus_zero.model_dump_json()
    assert hash(zero) == hash(minus_zero)


def test_a_result_differing_in_one_nested_list_hashes_apart() -> None:
    base = _hand_built(warnings=["a"])
    assert hash(base) != hash(_hand_built(warnings=["b"]))
    assert hash(base) == hash(base.model_copy())
    assert hash(base) != hash(base.model_copy(update={"table": TableInfo(name="t", sha256="")}))


def test_interpret_never_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    import cbc_ranges.models as models

    def refuse(value: object) -> object:
        raise AssertionError("hashed")

    monkeypatch.setattr(models, "_hashable", refuse)
    result = interpret("5.5", "K/uL", age=41, sex="male")
    with pytest.raises(AssertionError, match="hashed"):
        hash(result)


_texts = st.text(max_size=8)


@settings(max_examples=100, deadline=None)
@given(
    value=st.floats(min_value=0, max_value=500),
    warnings=st.lists(_texts, max_size=3),
    text=_texts,
)
def test_any_result_is_hashable_and_equal_after_a_json_round_trip(
    value: float, warnings: list[str], text: str
) -> None:
    result = _hand_built(count=Count(value=value, unit="10*9/L"), warnings=warnings, text=text)
    again = Interpretation.model_validate_json(result.model_dump_json())
    assert again == result
    assert hash(again) == hash(result)


# ------------------------------------------------------------------ json.dumps


def test_json_dumps_needs_model_dump_or_model_dump_json() -> None:
    result = interpret("3.1", "K/uL", age=40, sex="female")
    with pytest.raises(TypeError):
        json.dumps(result)
    assert json.loads(json.dumps(result.model_dump(mode="json"))) == json.loads(
        result.model_dump_json()
    )
    assert json.loads(result.model_dump_json())["library_version"] == cbc_ranges.__version__
