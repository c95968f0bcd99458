"""``cbc-ranges schema`` prints a JSON Schema that real results validate against.

The schema is checked with ``jsonschema``, an independent validator, against
results of ``interpret()`` across flags, ages, sexes, censored values and
warnings, as ``model_dump_json()`` writes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

from cbc_ranges import Interpretation, interpret
from cbc_ranges.cli import main

CASES: list[tuple[Any, str | None, dict[str, Any]]] = [
    ("3.1", "10*9/L", {"age": 40, "sex": "female"}),
    ("7.4", "K/uL", {"age": 35, "sex": "male"}),
    ("12,500", "/mm3", {"age": 50, "sex": "F"}),
    ("<1.0", None, {"age": 60}),
    (">=100", "10^3/uL", {}),
    ("4,2", "G/L", {"age": "6 months"}),
    (6.0, None, {"age": 8, "sex": "m", "ethnicity": "Middle Eastern"}),
    ("4200", None, {"age": 30}),
    ("4200", "K/uL", {"age": 30, "sex": "female", "ethnicity": "Irish"}),
    (4.0, "10*9/L", {"age": 18, "sex": "unknown"}),
]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "cbc_ranges", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed: dict[str, Any] = json.loads(done.stdout)
    return printed


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_schema_is_a_valid_json_schema_of_interpretation(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator
    assert schema["type"] == "object"
    assert {"count", "flag", "code", "leukopenia", "text"} <= set(schema["properties"])
    assert set(schema.get("required", [])) >= {"count", "flag", "text"}


def test_the_command_in_process_prints_the_same_schema(
    schema: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema


@pytest.mark.parametrize(("value", "unit", "person"), CASES)
def test_real_results_validate(
    validator: jsonschema.protocols.Validator,
    value: Any,
    unit: str | None,
    person: dict[str, Any],
) -> None:
    result = interpret(value, unit, **person)
    document = json.loads(result.model_dump_json())
    errors = [error.message for error in validator.iter_errors(document)]
    assert errors == []
    # and what validates reads back into the same model
    assert Interpretation.model_validate_json(result.model_dump_json()) == result


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("flag",), "very low"),
        (("code",), "LL"),
        (("count", "value"), "4.2"),
        (("count", "comparator"), "~"),
        (("leukopenia",), "yes"),
        (("text",), None),
    ],
)
def test_the_schema_rejects_a_broken_result(
    validator: jsonschema.protocols.Validator, path: tuple[str, ...], bad: Any
) -> None:
    document = json.loads(interpret("3.1", "10*9/L", age=40, sex="female").model_dump_json())
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad
    assert not validator.is_valid(document)


def test_a_missing_required_field_is_rejected(validator: jsonschema.protocols.Validator) -> None:
    document = json.loads(interpret("3.1", "10*9/L", age=40).model_dump_json())
    del document["flag"]
    assert not validator.is_valid(document)


def test_the_schema_id_names_the_library_and_its_version(schema: dict[str, Any]) -> None:
    from cbc_ranges import __version__
    from cbc_ranges.formats.json import schema_id

    assert schema["$id"] == schema_id() == schema_id(__version__)
    assert schema["$id"].startswith("https://cbc-ranges.invalid/")
    assert f"/{__version__}/" in schema["$id"]
    # the same for the same version, different for another one
    assert schema_id("9.9.9") != schema["$id"]


def test_the_schema_without_its_header_is_the_models_schema(schema: dict[str, Any]) -> None:
    body = {key: value for key, value in schema.items() if key not in ("$schema", "$id")}
    assert body == Interpretation.model_json_schema()
