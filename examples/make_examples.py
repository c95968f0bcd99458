"""Write the synthetic example CSV files of ``examples/`` (fixed seed: same bytes every run).

* ``teaching_wbc.csv``: a small wide file, one row per patient, UTF-8, ``,``
  separated: mixed units (US and European spellings, a unit inside the value
  cell, no unit at all), children and adults, and a few rows a lab file really
  has that cannot be read (text instead of a number, a wrong unit, an empty cell).
* ``labevents_sample.csv``: a long file shaped like MIMIC-IV ``labevents`` joined
  with the patient's ``anchor_age`` and ``gender``: WBC rows (itemid 51300 and
  51301, ``K/uL``) mixed with haemoglobin, platelets and creatinine, so that
  ``--where itemid=51300,51301`` matters.
* ``panels_sample.csv``: whole blood count panels in a long file shaped like
  MIMIC-IV ``labevents``: each draw (``specimen_id``) has its WBC and a
  differential (percentages of itemids 51256, 51244, 51254, 51200, 51146, bands
  51144, sometimes an absolute neutrophil count 52075), mixed with chemistry, in
  shuffled order; some draws are outpatient (empty ``hadm_id``), one has two WBC
  rows that disagree, one has no WBC. For ``--analyte-col itemid``.
* ``european_wbc.csv``: a German-style export, ``;`` separated with decimal
  commas, encoded in Latin-1 (cp1252), with ``µ`` and ``³`` as single bytes.

Every person and value is invented. Run ``python examples/make_examples.py``.
"""

from __future__ import annotations

import csv
import functools
import io
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20241122

ETHNICITIES = ["", "White", "Black or African American", "Asian", "Middle Eastern", "Hispanic"]


def _count_text(rng: random.Random, value: float) -> tuple[str, str]:
    """One WBC value (10^9/L) written the way one of many labs would write it."""
    style = rng.randrange(10)
    if style == 0:
        return f"{value:.1f}", "K/uL"
    if style == 1:
        return f"{value:.1f}", "10^9/L"
    if style == 2:
        return f"{round(value * 1000):,}", "cells/µL"
    if style == 3:
        return f"{round(value * 1000)}", "/mm3"
    if style == 4:
        return f"{value:.2f}", "x10E3/uL"
    if style == 5:
        return f"{value:.1f} x10^9/L", ""
    if style == 6:
        return f"{value:.1f}", "G/L"
    if style == 7:
        return f"{value:.1f}", "K/mcL"
    if style == 8:
        return f"{value:.1f}", "×10⁹/L"
    return f"{value:.1f}", ""  # no unit: read as 10^9/L with a warning


def teaching_rows(rng: random.Random) -> list[list[str]]:
    header = ["patient_id", "age", "sex", "ethnicity", "WBC", "unit", "note"]
    rows = [header]
    sexes = ["F", "M", "female", "male", "Female", "Male"]
    for number in range(1, 37):
        child = number % 4 == 0
        age = rng.randint(1, 15) if child else rng.randint(18, 88)
        value = max(0.8, rng.gauss(7.0 if not child else 8.5, 2.6))
        text, unit = _count_text(rng, value)
        note = ""
        if number == 7:
            note = "repeat sample,\nfirst one clotted"  # a quoted newline survives
        elif number == 12:
            note = 'marked "urgent" by the ward'
        rows.append(
            [
                f"P{number:03d}",
                str(age),
                rng.choice(sexes),
                rng.choice(ETHNICITIES),
                text,
                unit,
                note,
            ]
        )
    # rows a real export has and that cannot all be read
    rows += [
        ["P101", "34", "F", "", "<1.0", "K/uL", "censored: below the analyser's range"],
        ["P102", "45", "M", "", "clotted", "K/uL", "no result, sample clotted"],
        ["P103", "52", "F", "White", "", "", "not measured"],
        ["P104", "29", "M", "", "6.8", "mg/dL", "wrong unit typed in"],
        ["P105", "61", "F", "Black", "3.6", "K/uL", "lower counts can be usual in some groups"],
        ["P106", "8", "M", "", "11.2", "10^9/L", "child"],
        ["P107", "", "", "", "2.9", "10^9/L", "age and sex unknown"],
    ]
    return rows


def labevent_rows(rng: random.Random) -> list[list[str]]:
    header = [
        "labevent_id",
        "subject_id",
        "hadm_id",
        "specimen_id",
        "itemid",
        "charttime",
        "value",
        "valuenum",
        "valueuom",
        "ref_range_lower",
        "ref_range_upper",
        "flag",
        "anchor_age",
        "gender",
    ]
    # itemid: label, unit, typical value, spread, lower, upper
    items = {
        "51301": ("White Blood Cells", "K/uL", 7.5, 3.0, "4", "11"),
        "51300": ("WBC Count", "K/uL", 7.5, 3.0, "4", "11"),
        "51222": ("Hemoglobin", "g/dL", 12.5, 1.8, "12", "16"),
        "51265": ("Platelet Count", "K/uL", 240.0, 70.0, "150", "440"),
        "50912": ("Creatinine", "mg/dL", 1.0, 0.4, "0.5", "1.2"),
    }
    weights = [4, 1, 3, 3, 2]
    rows = [header]
    patients = [(10000000 + rng.randrange(900000), rng.randint(18, 91)) for _ in range(25)]
    genders = {subject: rng.choice("FM") for subject, _ in patients}
    event = 1000
    for _ in range(300):
        subject, age = rng.choice(patients)
        itemid = rng.choices(list(items), weights)[0]
        _, unit, mean, spread, low, high = items[itemid]
        value = max(0.1, rng.gauss(mean, spread))
        value_text = f"{value:.1f}"
        numeric = value_text
        if itemid in ("51300", "51301") and rng.random() < 0.03:
            value_text, numeric = "<0.1", ""  # censored: MIMIC leaves valuenum empty
        flag = "abnormal" if numeric and not float(low) <= value <= float(high) else ""
        event += rng.randint(1, 40)
        day = rng.randint(1, 28)
        rows.append(
            [
                str(event),
                str(subject),
                str(20000000 + subject % 1000000),
                str(30000000 + event),
                itemid,
                f"2180-03-{day:02d} {rng.randint(0, 23):02d}:{rng.choice(['00', '30']):s}:00",
                value_text,
                numeric,
                unit,
                low,
                high,
                flag,
                str(age),
                genders[subject],
            ]
        )
    return rows


def _panel_row(
    draw: tuple[str, ...], itemid: str, value: str, unit: str, low: str, high: str
) -> list[str]:
    subject, hadm, specimen, when, age, gender = draw
    return [subject, hadm, specimen, itemid, when, value, value, unit, low, high, age, gender]


def panel_rows(rng: random.Random) -> list[list[str]]:
    header = ["subject_id", "hadm_id", "specimen_id", "itemid", "charttime", "value",
              "valuenum", "valueuom", "ref_range_lower", "ref_range_upper", "anchor_age",
              "gender"]  # fmt: skip
    # itemid: unit, lower, upper (MIMIC-IV d_labitems; see ranges/item_maps.toml)
    differential = {
        "51256": ("%", "50", "70"),  # neutrophils
        "51244": ("%", "20", "40"),  # lymphocytes
        "51254": ("%", "2", "10"),  # monocytes
        "51200": ("%", "0", "7"),  # eosinophils
        "51146": ("%", "0", "2"),  # basophils
    }
    rows: list[list[str]] = []
    for draw in range(40):
        subject = 10000000 + rng.randrange(900000)
        hadm = "" if draw % 5 == 0 else str(20000000 + subject % 1000000)
        specimen = str(40000000 + draw)
        when = f"2180-05-{1 + draw % 28:02d} {rng.randint(0, 23):02d}:00:00"
        age, gender = str(rng.randint(18, 90)), rng.choice("FM")

        draw_cells = (str(subject), hadm, specimen, when, age, gender)
        row = functools.partial(_panel_row, draw_cells)
        wbc = max(0.8, rng.gauss(7.0, 3.5))
        if draw != 7:  # draw 7 has no WBC: its percentages stay percentages
            rows.append(row("51301", f"{wbc:.1f}", "K/uL", "4", "11"))
        if draw == 11:  # a second WBC that disagrees: no conversion
            rows.append(row("51300", f"{wbc + 2:.1f}", "K/uL", "4", "11"))
        shares = [rng.uniform(35, 75), rng.uniform(10, 45), rng.uniform(2, 11),
                  rng.uniform(0, 6), rng.uniform(0, 1.5)]  # fmt: skip
        bands = rng.uniform(2, 12) if draw % 6 == 0 else 0.0
        scale = (100 - bands) / sum(shares)
        for (itemid, (unit, low, high)), share in zip(differential.items(), shares, strict=True):
            rows.append(row(itemid, f"{share * scale:.1f}", unit, low, high))
        if bands:
            rows.append(row("51144", f"{bands:.1f}", "%", "0", "5"))
        if draw % 4 == 1:
            neutrophils = wbc * shares[0] * scale / 100
            rows.append(row("52075", f"{neutrophils:.2f}", "K/uL", "1.6", "7.7"))
        rows.append(row("50912", f"{max(0.3, rng.gauss(1.0, 0.3)):.1f}", "mg/dL", "0.5", "1.2"))
    rng.shuffle(rows)
    return [header, *rows]


def european_rows(rng: random.Random) -> list[list[str]]:
    header = ["Patient", "Alter", "Geschlecht", "Leukozyten", "Einheit", "Bemerkung"]
    rows = [header]
    units = ["G/l", "Tsd/µl", "/nl", "10^9/l", "/mm³"]
    for number in range(1, 21):
        age = rng.randint(2, 90)
        value = max(1.0, rng.gauss(7.0, 2.5))
        unit = rng.choice(units)
        text = f"{value:.2f}".replace(".", ",")  # decimal comma
        if unit == "/mm³":
            text = f"{round(value * 1000)}"
        note = "Kontrolle in 2 Wochen; Ärztin informiert" if number == 5 else ""
        rows.append([f"E{number:03d}", str(age), rng.choice("FM"), text, unit, note])
    rows.append(["E099", "47", "F", "n. b.", "G/l", "nicht bestimmt"])
    return rows


def wide_panel_rows(rng: random.Random) -> list[list[str]]:
    """One row per blood draw: WBC and the differential, some as counts, some as percentages."""
    header = ["draw", "age", "sex", "WBC", "NEUT%", "NEUT#", "LYMPH%", "LYMPH#", "MONO%",
              "EOS%", "BASO%", "unit"]  # fmt: skip
    rows = [header]
    for number in range(1, 31):
        age = rng.choice([rng.randint(18, 90), rng.randint(1, 17), rng.randint(0, 1)])
        wbc = max(0.9, rng.gauss(7.0, 3.0))
        shares = [rng.uniform(30, 75), rng.uniform(15, 50), rng.uniform(2, 11),
                  rng.uniform(0, 6), rng.uniform(0, 1.5)]  # fmt: skip
        scale = 100 / sum(shares)
        neut, lymph, mono, eos, baso = (share * scale for share in shares)
        # the lab prints some absolute counts and leaves others out, as real reports do
        neut_abs = f"{wbc * neut / 100:.2f}" if number % 3 else ""
        lymph_abs = f"{wbc * lymph / 100:.2f}" if number % 4 else ""
        wbc_text = f"{wbc:.1f}" if number != 9 else ""  # draw 9: no WBC, percentages stay %
        rows.append([f"D{number:03d}", str(age), rng.choice("FM"), wbc_text, f"{neut:.1f}",
                     neut_abs, f"{lymph:.1f}", lymph_abs, f"{mono:.1f}", f"{eos:.1f}",
                     f"{baso:.1f}", "K/uL"])  # fmt: skip
    return rows


def _csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def main() -> None:
    """Write the five example files next to this script."""
    rng = random.Random(SEED)
    (HERE / "teaching_wbc.csv").write_bytes(_csv_text(teaching_rows(rng)).encode("utf-8"))
    (HERE / "labevents_sample.csv").write_bytes(_csv_text(labevent_rows(rng)).encode("utf-8"))
    european = _csv_text(european_rows(rng), delimiter=";").replace("\n", "\r\n")
    (HERE / "european_wbc.csv").write_bytes(european.encode("cp1252"))
    panels = _csv_text(panel_rows(random.Random(SEED + 1)))  # its own seed: the others stay
    (HERE / "panels_sample.csv").write_bytes(panels.encode("utf-8"))
    wide = _csv_text(wide_panel_rows(random.Random(SEED + 2)))  # its own seed too
    (HERE / "cbc_wide.csv").write_bytes(wide.encode("utf-8"))


if __name__ == "__main__":
    main()
