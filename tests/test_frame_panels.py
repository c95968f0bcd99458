"""interpret_frame with whole panels: long frames (cbc_* columns) and wide ones
(differential=), cell for cell the same as cbc-ranges batch."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from cbc_ranges import interpret_frame
from cbc_ranges.batch import check_csv
from cbc_ranges.errors import BatchError, CBCError
from cbc_ranges.frame_panels import ANALYTE_FIELDS, PANEL_FRAME_COLUMNS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "panels_sample.csv"
_NO_LAB = {"ref_low_col": "", "ref_high_col": "", "ref_range_col": ""}


def _batch_records(data: bytes | Path, **options: Any) -> list[dict[str, Any]]:
    source: Any = data if isinstance(data, Path) else io.BytesIO(data)
    out = io.BytesIO()
    check_csv(source, out, format="jsonl", **options)
    return [json.loads(line) for line in out.getvalue().decode().splitlines()]


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    if isinstance(frame, pl.DataFrame):
        return frame.to_dicts()
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [dict(row) for row in rows]


def _same(theirs: object, ours: object) -> bool:
    if isinstance(theirs, list):  # JSONL lists the warnings; a frame joins them
        theirs = "; ".join(theirs) or None
    if isinstance(theirs, float) or isinstance(ours, float):
        if theirs is None or ours is None:
            return theirs is ours
        return math.isclose(float(theirs), float(ours), rel_tol=1e-9)  # type: ignore[arg-type]
    return theirs == ours


def _read(library: str, path: Path | io.BytesIO) -> Any:
    if library == "polars":
        return pl.read_csv(path, infer_schema_length=0)  # every column as text, as batch reads it
    return pd.read_csv(path)


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_a_long_frame_gives_what_batch_gives_on_the_shipped_panels(library: str) -> None:
    batch = _batch_records(EXAMPLE, analyte_col="itemid", **_NO_LAB)
    frame = interpret_frame(
        _read(library, EXAMPLE), value="valuenum", unit="valueuom", age="anchor_age",
        sex="gender", analyte_col="itemid",
    )  # fmt: skip
    ours = _frame_records(frame)
    assert len(ours) == len(batch)
    checked = 0
    for theirs, mine in zip(batch, ours, strict=True):
        for name in PANEL_FRAME_COLUMNS:
            if name == "cbc_comparator":
                continue  # batch writes the comparator inside cbc_value
            assert _same(theirs[name], mine[name]), (name, theirs, mine)
        checked += mine["cbc_flag"] is not None
    assert checked > 100  # most rows are blood counts with a flag
    percentages = [
        row for row in ours if row["cbc_percent"] is not None and row["cbc_analyte"] != "bands"
    ]
    converted = [row for row in percentages if row["cbc_value"] is not None]
    assert len(converted) > 0.8 * len(percentages) > 50


def test_a_percentage_takes_the_wbc_of_its_panel_anywhere_in_the_frame() -> None:
    frame = pd.DataFrame(
        {
            "hadm": [1, 2, None, 1, None],
            "time": ["t1", "t1", "t2", "t1", "t2"],
            "test": ["NEUT%", "WBC", "WBC", "WBC", "NEUT%"],
            "value": ["50", "9.0", "4.0", "6.0", "20"],
        }
    )
    out = interpret_frame(
        frame, value="value", analyte_col="test", analyte_map="WBC=wbc,NEUT%=neutrophils%",
        panel_cols=["hadm", "time"], default_unit="10^9/L",
    )  # fmt: skip
    # 50 % of panel (1, t1): 6.0, never panel (2, t1)'s 9.0; 20 % of the outpatient (None, t2): 4.0
    assert out["cbc_value"].tolist() == [3.0, 9.0, 4.0, 6.0, 0.8]
    assert out["cbc_percent"].tolist()[0] == 50.0
    assert list(frame.columns) == ["hadm", "time", "test", "value"]  # the input is untouched


def test_other_tests_pass_through_with_missing_results() -> None:
    frame = pl.DataFrame({"itemid": ["50912", "51301"], "valuenum": ["1.1", "3.0"]})
    out = interpret_frame(frame, value="valuenum", analyte_col="itemid", default_unit="K/uL")
    assert out["cbc_analyte"].to_list() == [None, "wbc"]
    assert out["cbc_flag"].to_list() == [None, "low"]
    assert out.columns[-len(PANEL_FRAME_COLUMNS) :] == list(PANEL_FRAME_COLUMNS)
    assert str(out.schema["cbc_value"]) == "Float64" and str(out.schema["cbc_grade"]) == "Int64"


def test_disagreeing_wbcs_leave_the_percentage_unconverted_and_unflagged_normal() -> None:
    frame = pd.DataFrame(
        {"sid": [1, 1, 1], "itemid": [51301, 51301, 51256], "valuenum": [4.0, 7.0, 50.0]}
    )
    out = interpret_frame(frame, value="valuenum", analyte_col="itemid", panel_cols="sid",
                          default_unit="K/uL")  # fmt: skip
    assert out["cbc_flag"].tolist()[2] == "indeterminate"
    assert "disagree" in out["cbc_warnings"].tolist()[2]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"analyte_col": "nope"}, "no analyte column 'nope'"),
        ({"analyte_col": "valuenum"}, "choose the column that names the test"),
        ({"analyte_col": "itemid", "panel_cols": "x"}, "no panel column 'x'"),
        ({"analyte_map": "mimic-v"}, "mimic"),
    ],
)
def test_bad_panel_options_are_batch_errors(options: dict[str, Any], message: str) -> None:
    frame = pd.DataFrame({"itemid": [51301], "valuenum": [3.0]})
    with pytest.raises(CBCError, match=message):
        interpret_frame(frame, value="valuenum", **options)


def test_a_frame_with_result_columns_already_is_refused() -> None:
    frame = pd.DataFrame({"itemid": [51301], "valuenum": [3.0], "cbc_flag": ["x"]})
    with pytest.raises(BatchError, match="cbc_flag"):
        interpret_frame(frame, value="valuenum", analyte_col="itemid")


# ------------------------------------------------------------------ wide

WIDE = (
    "id,age,sex,WBC,NEUT%,LYMPH#,MONO%,unit\n"
    "1,40,F,6.0,50,1.2,8,K/uL\n"
    "2,40,F,,50,,,K/uL\n"
    "3,3,M,2.0,10,0.4,30,K/uL\n"
    "4,70,M,<1.0,40,0.2,,K/uL\n"
)


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_a_wide_frame_gives_what_batch_gives(library: str) -> None:
    batch = _batch_records(WIDE.encode(), **_NO_LAB)
    frame = interpret_frame(
        _read(library, io.BytesIO(WIDE.encode())), value="WBC", unit="unit", age="age",
        sex="sex", differential=True,
    )  # fmt: skip
    ours = _frame_records(frame)
    analytes = ("neutrophils", "lymphocytes", "monocytes")
    assert list(frame.columns)[-len(analytes) * len(ANALYTE_FIELDS) :] == [
        f"{a}_{f}" for a in analytes for f in ANALYTE_FIELDS
    ]
    for theirs, mine in zip(batch, ours, strict=True):
        assert theirs["wbc_flag"] == mine["wbc_flag"]
        for analyte in analytes:
            for field in ANALYTE_FIELDS:
                if field == "comparator":
                    continue
                name = f"{analyte}_{field}"
                assert _same(theirs[name], mine[name]), (name, theirs[name], mine[name])
    # row 1: 50 % of 6.0 is 3.0; row 2 has no WBC: not converted, not flagged normal
    assert ours[0]["neutrophils_value"] == 3.0
    assert ours[1]["neutrophils_flag"] == "indeterminate"


def test_an_explicit_differential_mapping_names_the_columns() -> None:
    frame = pd.DataFrame({"WBC": [6.0], "Segs": [50.0], "Lymphs abs": [1.2]})
    out = interpret_frame(
        frame, value="WBC", default_unit="K/uL", age=None,
        differential={"Segs": "neutrophils%", "Lymphs abs": "lymphocytes"},
    )  # fmt: skip
    assert out["neutrophils_value"].tolist() == [3.0]
    assert out["neutrophils_percent"].tolist() == [50.0]
    assert out["lymphocytes_value"].tolist() == [1.2]
    with pytest.raises(BatchError, match="no differential column 'Nope'"):
        interpret_frame(frame, value="WBC", differential={"Nope": "neutrophils"})
    with pytest.raises(CBCError):
        interpret_frame(frame, value="WBC", differential={"Segs": "platelets"})


def test_without_differential_a_wide_frame_keeps_todays_columns() -> None:
    frame = pd.DataFrame({"WBC": [6.0], "NEUT%": [50.0]})
    out = interpret_frame(frame, value="WBC", default_unit="K/uL")
    assert not [c for c in out.columns if str(c).startswith("neutrophils_")]


# ------------------------------------------------------------------ text=True

TEACHING = Path(__file__).resolve().parents[1] / "examples" / "teaching_wbc.csv"


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_text_gives_the_batch_texts(library: str) -> None:
    batch = _batch_records(TEACHING, text=True)
    frame = _read(library, TEACHING)
    out = interpret_frame(
        frame, value="WBC", unit="unit", age="age", sex="sex", ethnicity="ethnicity", text=True
    )
    ours = _frame_records(out)
    assert [row["wbc_summary"] for row in ours] == [row["wbc_summary"] or None for row in batch]
    assert [row["wbc_text"] for row in ours] == [row["wbc_text"] or None for row in batch]
    explained = [row for row in ours if row["wbc_text"]]
    assert explained and all("not a diagnosis" in row["wbc_text"] for row in explained)
    assert all(row["wbc_text"] is None for row in ours if row["wbc_error"])


def test_text_is_refused_on_a_lazy_frame_and_over_existing_columns() -> None:
    lazy = pl.DataFrame({"wbc": ["3.1"]}).lazy()
    with pytest.raises(BatchError, match="collect"):
        interpret_frame(lazy, value="wbc", text=True)
    with pytest.raises(BatchError, match="wbc_text"):
        interpret_frame(pd.DataFrame({"wbc": [3.1], "wbc_text": ["x"]}), value="wbc", text=True)


WIDE_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cbc_wide.csv"


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_the_shipped_wide_example_gives_what_batch_gives(library: str) -> None:
    batch = _batch_records(WIDE_EXAMPLE)
    frame = interpret_frame(
        _read(library, WIDE_EXAMPLE), value="WBC", unit="unit", age="age", sex="sex",
        differential=True,
    )  # fmt: skip
    ours = _frame_records(frame)
    analytes = ("neutrophils", "lymphocytes", "monocytes", "eosinophils", "basophils")
    for theirs, mine in zip(batch, ours, strict=True):
        for analyte in analytes:
            for field in ANALYTE_FIELDS:
                if field != "comparator":
                    name = f"{analyte}_{field}"
                    assert _same(theirs[name], mine[name]), (name, theirs[name], mine[name])
    # a draw without a WBC: its percentages stay percentages, never flagged normal
    no_wbc = next(row for row in ours if row["draw"] == "D009")
    assert no_wbc["monocytes_flag"] == "indeterminate" and no_wbc["monocytes_value"] is None
    converted = [row["monocytes_value"] for row in ours if row["WBC"] is not None]
    assert len([v for v in converted if v is not None]) >= 25
