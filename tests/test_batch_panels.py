"""Whole panels in ``cbc-ranges batch``: long files by item, wide files with differentials."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbc_ranges.analytes import analytes
from cbc_ranges.batch import BatchSummary, check_csv
from cbc_ranges.batch.panels import PANEL_COLUMNS, WIDE_FIELDS
from cbc_ranges.cli import main
from cbc_ranges.errors import BatchError, RangeTableError
from cbc_ranges.panels import (
    BANDS,
    BOUND,
    CONFLICT,
    Item,
    Panel,
    PanelTotals,
    absolute_count,
    item_map,
    item_presets,
)
from cbc_ranges.rows import RESULT_COLUMNS

N = len(PANEL_COLUMNS)
AT = {name: i for i, name in enumerate(PANEL_COLUMNS)}

HEADER = (
    "subject_id,hadm_id,specimen_id,itemid,charttime,value,valuenum,valueuom,"
    "ref_range_lower,ref_range_upper,anchor_age,gender\n"
)
WIDTH = HEADER.count(",") + 1


def line(subject: int, hadm: str, specimen: int, item: str, value: str, unit: str) -> str:
    return f"{subject},{hadm},{specimen},{item},2180-01-01 08:00,{value},{value},{unit},,,40,F\n"


def run(data: bytes | str, **options: object) -> tuple[BatchSummary, list[list[str]], bytes]:
    raw_in = data.encode() if isinstance(data, str) else data
    out = io.BytesIO()
    summary = check_csv(io.BytesIO(raw_in), out, **options)  # type: ignore[arg-type]
    raw = out.getvalue()
    records = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    return summary, records, raw


def cell(record: list[str], name: str) -> str:
    return record[-N:][AT[name]]


# -- long files ------------------------------------------------------------------------------


def test_a_percentage_becomes_a_count_with_the_wbc_of_its_panel_anywhere_in_the_file() -> None:
    filler = "".join(line(9, "90", 900 + i, "50912", "0.9", "mg/dL") for i in range(5000))
    data = (
        HEADER
        + line(1, "10", 100, "51256", "50", "%")  # the percentage first...
        + filler
        + line(1, "10", 100, "51301", "6.0", "K/uL")  # ...its WBC 5,000 rows later
    )
    summary, records, _ = run(data, analyte_col="itemid")
    assert records[0][WIDTH:] == list(PANEL_COLUMNS)
    neutrophils = records[1]
    assert cell(neutrophils, "cbc_analyte") == "neutrophils"
    assert (cell(neutrophils, "cbc_value"), cell(neutrophils, "cbc_percent")) == ("3", "50")
    assert cell(neutrophils, "cbc_flag") == "normal"
    assert "50.0 % of the panel's white cell count of 6.0" in cell(neutrophils, "cbc_warnings")
    assert cell(records[-1], "cbc_analyte") == "wbc" and cell(records[-1], "cbc_value") == "6"
    assert summary.rows_read == 5002 and summary.skipped == 5000


def test_other_items_pass_through_with_empty_result_columns() -> None:
    data = (
        HEADER + line(1, "10", 100, "50912", "0.9", "mg/dL") + line(1, "10", 100, "51516", "3", "")
    )
    summary, records, _ = run(data, analyte_col="itemid")
    assert records[1][WIDTH:] == [""] * N and records[2][WIDTH:] == [""] * N
    assert summary.skipped == 2 and summary.errors == 0
    assert any("2 rows of other items passed through" in w for w in summary.warnings)


def test_outpatient_panels_with_an_empty_admission_are_grouped_by_subject_and_time() -> None:
    header = "subject_id,hadm_id,itemid,charttime,valuenum,valueuom,anchor_age,gender\n"
    data = (
        header
        + "7,,51301,2180-02-01 09:00,2.0,K/uL,50,M\n"
        + "8,,51301,2180-02-01 09:00,9.0,K/uL,50,M\n"  # another patient, same time
        + "7,,51256,2180-02-01 09:00,60,%,50,M\n"
        + "7,,51256,2180-02-02 09:00,60,%,50,M\n"  # another draw: no WBC
    )
    summary, records, _ = run(data, analyte_col="itemid")
    assert any("panels by 'subject_id', 'hadm_id', 'charttime'" in w for w in summary.warnings)
    assert cell(records[3], "cbc_value") == "1.2" and cell(records[3], "cbc_flag") == "low"
    assert cell(records[4], "cbc_value") == "" and cell(records[4], "cbc_flag") == "indeterminate"
    assert "no white cell count of this panel" in cell(records[4], "cbc_warnings")


def test_specimen_id_is_the_panel_when_the_file_has_it() -> None:
    data = (
        HEADER
        + line(1, "10", 100, "51301", "6.0", "K/uL")
        + line(1, "10", 101, "51254", "10", "%")  # same admission and time, other specimen
    )
    summary, records, _ = run(data, analyte_col="itemid")
    assert any("panels by 'specimen_id'" in w for w in summary.warnings)
    assert cell(records[2], "cbc_flag") == "indeterminate"
    _, records, _ = run(data, analyte_col="itemid", panel_cols="hadm_id,charttime")
    assert cell(records[2], "cbc_value") == "0.6"


def test_bands_are_added_to_the_absolute_neutrophil_count() -> None:
    data = (
        HEADER
        + line(1, "10", 100, "51301", "3.0", "K/uL")
        + line(1, "10", 100, "51256", "50", "%")
        + line(1, "10", 100, "51144", "20", "%")
    )
    _, records, _ = run(data, analyte_col="itemid")
    neutrophils, bands = records[2], records[3]
    assert cell(neutrophils, "cbc_value") == "2.1"  # (50 + 20) % of 3.0, not 1.5
    assert cell(neutrophils, "cbc_flag") == "normal"
    assert "plus 20.0 % bands" in cell(neutrophils, "cbc_warnings")
    assert cell(bands, "cbc_analyte") == BANDS and cell(bands, "cbc_percent") == "20"
    assert cell(bands, "cbc_flag") == ""  # no range of their own: never a false normal
    _, records, _ = run(
        HEADER
        + line(1, "10", 100, "51301", "3.0", "K/uL")
        + line(1, "10", 100, "51256", "50", "%"),
        analyte_col="itemid",
    )
    assert cell(records[2], "cbc_value") == "1.5" and cell(records[2], "cbc_flag") == "low"


def test_an_absolute_neutrophil_count_is_not_given_the_bands_again() -> None:
    data = (
        HEADER
        + line(1, "10", 100, "51301", "3.0", "K/uL")
        + line(1, "10", 100, "52075", "1.5", "K/uL")
        + line(1, "10", 100, "51144", "20", "%")
    )
    _, records, _ = run(data, analyte_col="itemid")
    assert cell(records[2], "cbc_value") == "1.5" and cell(records[2], "cbc_flag") == "low"


def test_two_wbc_rows_that_agree_convert_and_two_that_disagree_do_not() -> None:
    agree = (
        HEADER
        + line(1, "10", 100, "51301", "6.0", "K/uL")
        + line(1, "10", 100, "51300", "6000", "/uL")  # the same count in another unit
        + line(1, "10", 100, "51244", "20", "%")
    )
    _, records, _ = run(agree, analyte_col="itemid")
    assert cell(records[3], "cbc_value") == "1.2"
    disagree = agree.replace("6000,6000", "9000,9000")
    summary, records, _ = run(disagree, analyte_col="itemid")
    assert cell(records[3], "cbc_value") == "" and cell(records[3], "cbc_flag") == "indeterminate"
    assert "disagree" in cell(records[3], "cbc_warnings")
    for wbc in records[1:3]:
        assert cell(wbc, "cbc_flag") == "normal" and "another white cell count" in cell(
            wbc, "cbc_warnings"
        )
    assert summary.indeterminate == 1


def test_a_bound_wbc_gives_no_count() -> None:
    data = (
        HEADER
        + line(1, "10", 100, "51301", "<0.1", "K/uL")
        + line(1, "10", 100, "51256", "50", "%")
    )
    _, records, _ = run(data, analyte_col="itemid")
    assert cell(records[2], "cbc_flag") == "indeterminate"
    assert "is a bound" in cell(records[2], "cbc_warnings")


def test_a_percentage_without_a_panel_wbc_is_never_called_normal() -> None:
    data = HEADER + "".join(line(1, "10", 100 + i, "51256", str(v), "%") for i, v in enumerate(
        (0, 10, 50, 65, 95)))  # fmt: skip
    summary, records, _ = run(data, analyte_col="itemid")
    assert {cell(r, "cbc_flag") for r in records[1:]} == {"indeterminate"}
    assert summary.normal == 0 and summary.indeterminate == 5


def test_without_panel_columns_percentages_stay_percentages() -> None:
    data = "test,result,unit,age,sex\nWBC,6.0,K/uL,40,F\nNeutrophils,50,%,40,F\n"
    summary, records, _ = run(data, analyte_col="test")
    assert any("no panel columns" in w for w in summary.warnings)
    assert cell(records[1], "cbc_flag") == "normal"
    assert cell(records[2], "cbc_flag") == "indeterminate"
    assert "no panel columns" in cell(records[2], "cbc_warnings")


def test_the_percent_marker_of_a_map_reads_an_empty_unit_as_percent() -> None:
    data = "draw,code,result,age,sex\n1,W,6.0,40,F\n1,N,50,40,F\n1,L,1.2,40,F\n"
    _, records, _ = run(
        data,
        analyte_col="code",
        analyte_map="W=wbc,N=neutrophils%,L=lymphocytes",
        panel_cols="draw",
    )
    assert cell(records[2], "cbc_percent") == "50" and cell(records[2], "cbc_value") == "3"
    assert cell(records[3], "cbc_percent") == "" and cell(records[3], "cbc_value") == "1.2"


def test_the_lab_range_of_a_count_is_used_and_that_of_a_percentage_is_not() -> None:
    data = (
        "specimen_id,itemid,valuenum,valueuom,ref_range_lower,ref_range_upper,anchor_age,gender\n"
        "1,51301,6.0,K/uL,7,11,40,F\n"
        "1,51256,50,%,55,70,40,F\n"
    )
    _, records, _ = run(data, analyte_col="itemid")
    assert cell(records[1], "cbc_flag") == "low" and cell(records[1], "cbc_ref_low") == "7"
    assert cell(records[2], "cbc_flag") == "normal" and cell(records[2], "cbc_ref_low") == "1.8"
    assert "range is for the percentage" in cell(records[2], "cbc_warnings")


def test_where_still_selects_rows_in_a_long_file() -> None:
    data = (
        HEADER
        + line(1, "10", 100, "51301", "6.0", "K/uL").replace(",F\n", ",M\n")
        + line(1, "10", 100, "51254", "10", "%")
    )
    summary, records, _ = run(data, analyte_col="itemid", where="gender=F")
    assert records[1][WIDTH:] == [""] * N  # the WBC row is filtered out...
    assert cell(records[2], "cbc_flag") == "indeterminate"  # ...so its panel has none
    assert summary.skipped == 1


def test_a_ragged_or_bad_row_keeps_its_data_and_carries_its_error() -> None:
    data = HEADER + "1,10,100,51301,x\n" + line(1, "10", 100, "51244", "abc", "%")
    summary, records, raw = run(data, analyte_col="itemid")
    assert raw.decode().splitlines()[1].startswith("1,10,100,51301,x,")
    assert "row has 5 fields" in cell(records[1], "cbc_error")
    assert cell(records[2], "cbc_analyte") == "lymphocytes" and cell(records[2], "cbc_error")
    assert summary.errors == 2


def test_jsonl_output_of_a_long_file() -> None:
    data = (
        HEADER + line(1, "10", 100, "51301", "6.0", "K/uL") + line(1, "10", 100, "51256", "50", "%")
    )
    data += line(1, "10", 100, "50912", "0.9", "mg/dL")
    _, _, raw = run(data, analyte_col="itemid", format="jsonl")
    objects = [json.loads(text) for text in raw.decode().splitlines()]
    assert len(objects) == 3
    assert list(objects[0])[-N:] == list(PANEL_COLUMNS)
    assert objects[1]["cbc_value"] == 3.0 and objects[1]["cbc_percent"] == 50.0
    assert objects[1]["cbc_warnings"] and objects[1]["cbc_flag"] == "normal"
    assert objects[2]["cbc_analyte"] is None and objects[2]["cbc_flag"] is None


def test_standard_input_that_cannot_seek_is_read_in_two_passes() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = (
        HEADER + line(1, "10", 100, "51256", "50", "%") + line(1, "10", 100, "51301", "6", "K/uL")
    )
    out = io.BytesIO()
    check_csv(io.BufferedReader(Pipe(data.encode())), out, analyte_col="itemid")
    records = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert cell(records[1], "cbc_value") == "3"


def test_a_wbc_only_long_file_keeps_its_columns_unless_panels_are_asked_for() -> None:
    data = (
        HEADER + line(1, "10", 100, "51301", "6.0", "K/uL") + line(1, "10", 100, "51256", "50", "%")
    )
    summary, records, _ = run(data, where="itemid=51301")
    assert records[0][WIDTH:] == list(RESULT_COLUMNS)
    assert records[2][WIDTH:] == [""] * len(RESULT_COLUMNS)
    _, records, _ = run(data)
    assert records[0][WIDTH:] == list(RESULT_COLUMNS)
    assert any("--analyte-col itemid" in w for w in run(data)[0].warnings)
    assert not any("--analyte-col" in w for w in summary.warnings)


def test_text_is_refused_with_panels() -> None:
    with pytest.raises(BatchError, match="--text"):
        run(HEADER, analyte_col="itemid", text=True)


def test_panel_options_find_the_item_column_or_say_which_to_give() -> None:
    data = HEADER + line(1, "10", 100, "51301", "6.0", "K/uL")
    summary, _, _ = run(data, panel_cols="specimen_id")
    assert any("items from 'itemid'" in w for w in summary.warnings)
    with pytest.raises(BatchError, match="--analyte-col"):
        run("specimen,code,result\n1,W,6\n", panel_cols="specimen")
    with pytest.raises(BatchError, match="no such column"):
        run(data, analyte_col="item")
    with pytest.raises(BatchError, match="column of the value"):
        run(data, analyte_col="valuenum")
    with pytest.raises(BatchError, match="no such column"):
        run(data, analyte_col="itemid", panel_cols="specimen")


def test_the_cli_reads_whole_panels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "labevents.csv"
    source.write_text(
        HEADER + line(1, "10", 100, "51301", "6.0", "K/uL") + line(1, "10", 100, "51256", "50", "%")
    )
    out = tmp_path / "out.csv"
    args = ["batch", str(source), "-o", str(out), "--analyte-col", "itemid"]
    assert main([*args, "--analyte-map", "mimic-iv", "--panel-cols", "specimen_id"]) == 0
    assert "whole panels" in capsys.readouterr().err
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[2][-N:][AT["cbc_value"]] == "3"
    assert main([*args, "--analyte-map", "mimic-v"]) == 2
    assert "did you mean 'mimic-iv'" in capsys.readouterr().err


# -- property: every row back, in order, bytes unchanged, whatever the file --------------------

_ITEMS = ("51301", "51300", "51256", "51244", "51254", "51144", "52075", "50912", "51222", "x")
_VALUES = ("6.0", "2", "50", "<0.1", "", "abc", "4,5", '"7"', "1e3", "0")
_UNITS = ("K/uL", "%", "", "mg/dL", "/uL")


@st.composite
def long_files(draw: st.DrawFn) -> tuple[str, list[str]]:
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(1, 4),
                st.sampled_from(("10", "")),
                st.sampled_from(_ITEMS),
                st.sampled_from(_VALUES),
                st.sampled_from(_UNITS),
            ),
            max_size=30,
        )
    )
    lines = [
        f"{s},{h},{s * 10},{item},2180-01-0{s} 08:00,{v},{v},{u},,,40,F"
        for s, h, item, v, u in rows
    ]
    return HEADER + "".join(f"{text}\r\n" if i % 3 == 0 else f"{text}\n" for i, text in
                            enumerate(lines)), lines  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_files())
def test_every_row_comes_back_in_order_with_its_bytes(case: tuple[str, list[str]]) -> None:
    data, _ = case
    summary, _, raw = run(data, analyte_col="itemid")
    given_lines = data.encode().splitlines(keepends=True)
    out_lines = raw.splitlines(keepends=True)
    assert len(out_lines) == len(given_lines)
    for before, after in zip(given_lines, out_lines, strict=True):
        body = before.rstrip(b"\r\n")
        assert after.startswith(body + b",")
        assert after.endswith(before[len(body) :])  # the row's own line end
    assert summary.rows_read == len(given_lines) - 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_files(), st.randoms(use_true_random=False))
def test_a_rows_result_does_not_depend_on_where_its_panel_rows_are(
    case: tuple[str, list[str]], shuffler: random.Random
) -> None:
    _, lines = case
    shuffled = lines[:]
    shuffler.shuffle(shuffled)
    results: list[dict[str, list[str]]] = []
    for order in (lines, shuffled):
        data = HEADER + "".join(f"{text}\n" for text in order)
        _, records, _ = run(data, analyte_col="itemid")
        found: dict[str, list[str]] = {}
        for record in records[1:]:
            found.setdefault(",".join(record[:WIDTH]), []).append(",".join(record[WIDTH:]))
        results.append({key: sorted(value) for key, value in found.items()})
    assert results[0] == results[1]


# -- wide files ------------------------------------------------------------------------------

WIDE = "id,age,sex,WBC,NEUT%,LYMPH#,MONO%,unit\n"


def wide_cell(record: list[str], header: list[str], analyte: str, name: str) -> str:
    return record[header.index(f"{analyte}_{name}")]


def test_a_wide_file_gets_the_wbc_columns_then_each_analytes_own() -> None:
    data = WIDE + "1,40,F,6.0,50,1.2 K/uL,8,K/uL\n2,40,F,,50,,,K/uL\n"
    summary, records, _ = run(data)
    header = records[0]
    width = WIDE.count(",") + 1
    expected = [
        f"{a}_{name}" for a in ("neutrophils", "lymphocytes", "monocytes") for name in WIDE_FIELDS
    ]
    assert header[width:] == [*RESULT_COLUMNS, *expected]
    first, second = records[1], records[2]
    assert first[width + 1] == "normal"  # wbc_flag, where it always was
    assert wide_cell(first, header, "neutrophils", "value") == "3"
    assert wide_cell(first, header, "neutrophils", "percent") == "50"
    assert wide_cell(first, header, "lymphocytes", "value") == "1.2"
    assert wide_cell(first, header, "monocytes", "value") == "0.48"
    assert wide_cell(second, header, "neutrophils", "flag") == "indeterminate"
    assert "no white cell count in this row" in wide_cell(second, header, "neutrophils", "warnings")
    assert wide_cell(second, header, "lymphocytes", "flag") == ""
    assert any("differential columns" in w for w in summary.warnings)


def test_a_wide_file_as_json_lines() -> None:
    _, _, raw = run(WIDE + "1,40,F,6.0,50,1.2,8,K/uL\n", format="jsonl")
    (obj,) = [json.loads(text) for text in raw.decode().splitlines()]
    assert obj["wbc_flag"] == "normal" and obj["neutrophils_value"] == 3.0
    assert obj["neutrophils_percent"] == 50.0 and obj["lymphocytes_percent"] is None


def test_a_wbc_only_file_keeps_exactly_its_columns() -> None:
    _, records, _ = run("id,age,sex,wbc,unit\n1,40,F,6,K/uL\n")
    assert records[0][5:] == list(RESULT_COLUMNS)


def test_of_two_percentage_columns_of_one_analyte_the_first_is_read() -> None:
    summary, records, _ = run("wbc,neut%,neutrophils %\n6,50,80\n")
    assert records[1][records[0].index("neutrophils_value")] == "3"
    assert any("not read" in w and "'neutrophils %'" in w for w in summary.warnings)


# -- the item maps -----------------------------------------------------------------------------

# the blood items of the dictionaries the presets were checked against (item_maps.toml says where):
# (itemid, label) of MIMIC-IV v2.2 hosp/d_labitems and MIMIC-III D_LABITEMS, fluid Blood
MIMIC_IV = {
    "51301": "White Blood Cells", "51300": "WBC Count", "51755": "White Blood Cells",
    "52075": "Absolute Neutrophil Count", "51256": "Neutrophils", "51144": "Bands",
    "51133": "Absolute Lymphocyte Count", "52769": "Absolute Lymphocyte Count",
    "51244": "Lymphocytes", "51245": "Lymphocytes, Percent", "52074": "Absolute Monocyte Count",
    "51253": "Monocyte Count", "51254": "Monocytes", "52073": "Absolute Eosinophil Count",
    "51199": "Eosinophil Count", "51200": "Eosinophils", "52069": "Absolute Basophil Count",
    "51146": "Basophils",
}  # fmt: skip
MIMIC_III = {key: MIMIC_IV[key] for key in (
    "51301", "51300", "51256", "51144", "51133", "51244", "51245", "51253", "51254", "51199",
    "51200", "51146")}  # fmt: skip


@pytest.mark.parametrize(
    ("preset", "dictionary"), [("mimic-iv", MIMIC_IV), ("mimic-iii", MIMIC_III)]
)
def test_every_preset_id_is_its_dictionary_label_read_as_a_label(
    preset: str, dictionary: dict[str, str]
) -> None:
    ids = item_presets()[preset].items
    assert set(ids) == set(dictionary)
    labels = item_map("labels")
    offenders = [key for key, label in dictionary.items() if labels.item(label) != ids[key]]
    assert offenders == []


def test_the_presets_never_disagree_and_name_where_they_were_checked() -> None:
    everything = item_map()
    for preset in item_presets().values():
        assert "commit" in preset.verified or preset.labels
        for key, item in preset.items.items():
            assert item.analyte in (*analytes(), BANDS)
            assert (everything.item(key) if not preset.labels else everything.names[key]) == item


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "51301=wbc,51256=neutrofils",
            "'neutrofils' is not an analyte.*did you mean 'neutrophils'",
        ),
        ("51301", "no such preset or file"),
        ("mimic", "no such preset"),
        ("51301:wbc", "no such preset or file"),
        ("51301=wbc,,=neutrophils", "is not KEY=ANALYTE"),
        ("51301=wbc,51256", "is not KEY=ANALYTE"),
        ("mimic-iv+nope", "no such preset"),
    ],
)
def test_a_bad_analyte_map_says_what_was_wrong_and_what_would_be_right(
    spec: str, message: str
) -> None:
    with pytest.raises(BatchError, match=message):
        item_map(spec)


def test_a_map_file_and_a_mapping_are_read(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("# our lab's codes\nWBC1,wbc\nNEU,neutrophils%\nLY=Lymphs\n")
    found = item_map(str(path))
    assert found.item("NEU") == Item("neutrophils", True)
    assert found.item("LY") == Item("lymphocytes", False)
    assert found.item("other") is None
    assert item_map({"A": "ANC"}).item("a") == Item("neutrophils", False)
    bad = tmp_path / "bad.txt"
    bad.write_text("WBC1=wbc\nNEU=platelets\n")
    with pytest.raises(BatchError, match="NEU: 'platelets' is not an analyte"):
        item_map(str(bad))


def test_a_bad_preset_file_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cbc_ranges import data

    (tmp_path / "item_maps.toml").write_text(
        '[ours]\ntitle = "x"\nverified = "y"\n[ours.items]\n1 = "platelets"\n'
    )
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(tmp_path))
    data.clear_caches()
    try:
        with pytest.raises(RangeTableError, match=r"item_maps\.toml"):
            item_presets()
    finally:
        monkeypatch.delenv(data.ENVIRONMENT_VARIABLE)
        data.clear_caches()


# -- the pure core -----------------------------------------------------------------------------


def test_panel_totals_agree_disagree_and_bound() -> None:
    totals = PanelTotals.of(
        [("a", "wbc", 5.0), ("a", "wbc", 5.0), ("b", "wbc", 5.0), ("b", "wbc", 6.0),
         ("c", "wbc", BOUND), ("d", "bands", 4.0), ("d", "bands", 5.0)]
    )  # fmt: skip
    assert totals.panel("a").wbc == 5.0 and totals.panel("b").wbc is CONFLICT
    assert totals.panel("c").wbc is BOUND and totals.panel("d").bands is CONFLICT
    assert len(totals) == 4
    assert absolute_count(50.0, Panel(5.0, CONFLICT), with_bands=True)[0] is None
    assert absolute_count(50.0, Panel(5.0, CONFLICT))[0] == 2.5  # bands only for neutrophils


def test_the_row_engine_never_flags_a_percentage_against_a_counts_range() -> None:
    from cbc_ranges.rows import RowInterpreter

    rows = RowInterpreter(analyte="neutrophils")
    for lab in (None, "50-70"):
        entry = rows.lookup("58", "%", "40", "F", None, lab)
        assert entry.cells[1] == "" and "percentage" in entry.cells[-1]
    assert rows.lookup("2.5", "K/uL", "40", "F").cells[1] == "normal"


def test_the_panels_example(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "panels_sample.csv"
    out = tmp_path / "out.csv"
    summary = check_csv(example, out, analyte_col="itemid")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    given_rows = list(csv.reader(io.StringIO(example.read_text(encoding="utf-8"))))
    assert [row[:WIDTH] for row in rows] == given_rows
    by_analyte: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        by_analyte.setdefault(cell(row, "cbc_analyte"), []).append(row)
    assert set(by_analyte) == {"", "wbc", "neutrophils", "lymphocytes", "monocytes",
                               "eosinophils", "basophils", "bands"}  # fmt: skip
    converted = [r for r in by_analyte["neutrophils"] if cell(r, "cbc_percent")]
    assert sum(1 for r in converted if cell(r, "cbc_value")) >= 35  # all but the two odd draws
    assert {cell(r, "cbc_flag") for r in converted if not cell(r, "cbc_value")} == {"indeterminate"}
    assert any("plus" in cell(r, "cbc_warnings") for r in converted)  # bands added
    assert summary.errors == 0 and summary.skipped == len(by_analyte[""]) + len(by_analyte["bands"])


@pytest.mark.parametrize("output_format", ["csv", "jsonl"])
def test_blank_ragged_and_unclosed_rows_of_panel_files(output_format: str) -> None:
    long = (
        HEADER
        + line(1, "10", 100, "51301", "6.0", "K/uL")
        + "\n"
        + "1,10,100,51256\n"
        + line(1, "10", 100, "51256", "50", "%")
        + '1,10,100,51244,"2180-01-01 08:00,5\n'
    )
    summary, _, raw = run(
        long, analyte_col="itemid", panel_cols=["specimen_id"], format=output_format
    )
    text = raw.decode()
    if output_format == "csv":
        lines = text.splitlines()
        assert len(lines) == 6 and lines[2] == ""
        assert "row has 4 fields" in lines[3] and "never closed" in lines[5]
    else:
        objects = [json.loads(row) for row in text.splitlines()]
        assert len(objects) == 4  # blank lines are not written
        assert "row has 4 fields" in objects[1]["cbc_error"] and objects[2]["cbc_value"] == 3.0
        assert "never closed" in objects[3]["cbc_error"]
    assert summary.errors == 2 and summary.normal == 2
    wide = WIDE + "1,40,F,6.0,50,1.2,8,K/uL\n\n2,40,F\n" + '3,40,F,"6.0,50,,,\n'
    summary, _, raw = run(wide, format=output_format)
    if output_format == "jsonl":
        objects = [json.loads(row) for row in raw.decode().splitlines()]
        assert objects[0]["neutrophils_value"] == 3.0 and objects[1]["wbc_error"]
        assert objects[1]["neutrophils_value"] is None and "never closed" in objects[2]["wbc_error"]
    else:
        records = list(csv.reader(io.StringIO(raw.decode(), newline="")))
        assert records[2] == [] and "row has 3 fields" in records[3][8 + 11]
    assert summary.errors == 2


def test_a_cp1252_long_file_keeps_its_bytes_and_says_how_a_line_was_read() -> None:
    data = (HEADER + line(1, "10", 100, "51301", "6.0", "K/µL")).encode("cp1252")
    out = io.BytesIO()
    summary = check_csv(io.BytesIO(data), out, analyte_col="itemid")
    given_line, out_line = data.splitlines()[1], out.getvalue().splitlines()[1]
    assert out_line.startswith(given_line + b",wbc,6,")  # b"K/\xb5L" as it was
    assert summary.encoding == "cp1252" and summary.normal == 1


def test_a_semicolon_file_with_decimal_commas_and_label_spellings() -> None:
    data = (
        "Probe;Test;Wert;Einheit;Alter;Geschlecht\n"
        "1;WBC;6,5;G/l;40;F\n"
        "1;Neutrophils;50,5;%;40;F\n"
        "1;Lymphs %;20;;40;F\n"
    )
    out = io.BytesIO()
    check_csv(io.BytesIO(data.encode()), out, analyte_col="Test", panel_cols="Probe")
    records = list(csv.reader(io.StringIO(out.getvalue().decode()), delimiter=";"))
    assert [cell(r, "cbc_value") for r in records[1:]] == ["6,5", "3,2825", "1,3"]
    assert [cell(r, "cbc_percent") for r in records[1:]] == ["", "50,5", "20"]


def test_a_huge_cell_is_quoted_short_in_the_error() -> None:
    data = HEADER + line(1, "10", 100, "51244", "9" * 5000 + "x", "%")
    _, records, _ = run(data, analyte_col="itemid")
    error = cell(records[1], "cbc_error")
    assert error and len(error) <= 300 and "characters" in error


def test_text_in_a_wide_file_keeps_its_place_after_the_wbc_columns() -> None:
    _, records, _ = run(WIDE + "1,40,F,6.0,50,,,K/uL\n", text=True)
    header, row = records[0], records[1]
    assert header[8 + len(RESULT_COLUMNS) : 8 + len(RESULT_COLUMNS) + 2] == [
        "wbc_summary",
        "wbc_text",
    ]
    assert row[header.index("wbc_text")] and row[header.index("neutrophils_value")] == "3"
