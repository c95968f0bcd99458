"""The educational text: always "not a diagnosis", never diagnostic wording, own words, cited."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest

from cbc_ranges import data
from cbc_ranges.analytes import analytes
from cbc_ranges.errors import RangeTableError
from cbc_ranges.explain import BLOCK_NAMES, DIAGNOSTIC_WORDING, blocks
from cbc_ranges.interpretation import interpret
from cbc_ranges.models import Interpretation
from cbc_ranges.ranges import LEGACY_COLUMNS, load_table, read_data_text, shipped_sources

SEEDS = Path("/work/shared/seeds")

AGES = [None, "3 months", 8, 17.9, 18, 40, 90]
SEXES = ["female", "male", None, "x"]
ETHNICITIES = [None, "Black", "African American", "Arab", "Middle Eastern", "White"]
# values that give every flag and leukopenia state for some person: exact, censored both ways
VALUES = ["1.0", "4.2", "4.7", "6.0", "10.5", "15", "<1.0", "<4.0", "<=4.0", "<6", ">12", ">6"]

COMBINATIONS = list(itertools.product(AGES, SEXES, ETHNICITIES, VALUES))


def every_result() -> list[Interpretation]:
    return [
        interpret(value, "10^9/L", age=age, sex=sex, ethnicity=ethnicity)
        for age, sex, ethnicity, value in COMBINATIONS
    ]


@pytest.fixture(scope="module")
def results() -> list[Interpretation]:
    return every_result()


@pytest.fixture(scope="module")
def no_range_results(tmp_path_factory: pytest.TempPathFactory) -> list[Interpretation]:
    path = tmp_path_factory.mktemp("lab") / "lab.csv"
    path.write_text(
        ",".join(LEGACY_COLUMNS)
        + "\nm,wbc,reference_interval,18,,years,male,any,4,10,10^9/L,wikipedia,men only\n",
        encoding="utf-8",
    )
    table = load_table(path)
    return [
        interpret(value, age=age, sex=sex, ethnicity=ethnicity, table=table)
        for age, sex, ethnicity, value in itertools.product(AGES, SEXES, ETHNICITIES, VALUES[:4])
    ]


def test_the_combinations_reach_every_flag_and_leukopenia_state(
    results: list[Interpretation], no_range_results: list[Interpretation]
) -> None:
    assert {r.flag for r in results} == {"low", "normal", "high", "indeterminate"}
    assert {r.leukopenia for r in results} == {True, False, None}
    assert {r.person.ethnicity for r in results} == {None, "african", "middle_eastern"}
    assert any(r.reference is None for r in no_range_results)


def test_every_text_says_not_a_diagnosis(
    results: list[Interpretation], no_range_results: list[Interpretation]
) -> None:
    offenders = [r.count.raw for r in results + no_range_results if "not a diagnosis" not in r.text]
    assert offenders == []


def test_no_text_uses_diagnostic_wording(
    results: list[Interpretation], no_range_results: list[Interpretation]
) -> None:
    offenders = {
        match.group(0)
        for r in results + no_range_results
        for match in DIAGNOSTIC_WORDING.finditer(r.text)
    }
    assert offenders == set()


DIAGNOSTIC = [
    "You have leukopenia",
    "you do not have an infection",
    "you don't have leukemia",
    "you don’t have leukemia",
    "you've got neutropenia",
    "this is normal for you",
    "This shows an infection",
    "you should take vitamin B12",
    "it is diagnosed by",
    "diagnosed with",
    "this rules out leukemia",
    "it confirms a problem",
    "you are suffering from",
    "you are ill",
    "you're sick",
]


@pytest.mark.parametrize("phrase", DIAGNOSTIC)
def test_the_diagnostic_wording_check_catches_what_it_should(phrase: str) -> None:
    assert DIAGNOSTIC_WORDING.search(phrase)


def test_the_diagnostic_wording_check_lets_plain_text_through() -> None:
    for phrase in (
        "what the result means for the person it belongs to",
        "It only shows how one number compares",
        "contact a healthcare professional today",
    ):
        assert not DIAGNOSTIC_WORDING.search(phrase)


def test_no_placeholder_is_left_unfilled(
    results: list[Interpretation], no_range_results: list[Interpretation]
) -> None:
    offenders = {r.text for r in results + no_range_results if re.search(r"\{\w+\}", r.text)}
    assert offenders == set()


def test_every_block_used_is_cited_in_sources(results: list[Interpretation]) -> None:
    library = blocks()
    offenders = []
    for result in results:
        cited = {source.id for source in result.sources}
        for block in library.values():
            if block.text.split("{")[0][:40] in result.text and not set(block.sources) <= cited:
                offenders.append((block.name, result.count.raw))
    assert offenders == []


def low(age: float | str | None = 40, sex: str | None = "female", **kw: str) -> str:
    return interpret("2.0", age=age, sex=sex, **kw).text


def test_a_low_text_names_leukopenia_neutrophils_causes_signs_and_transience() -> None:
    text = low()
    for words in (
        "is called leukopenia",
        "neutrophils",
        "infections",
        "chemotherapy",
        "bone marrow",
        "autoimmune",
        "vitamin B12",
        "fever",
        "healthcare professional",
        "One low result",
        "also below 4.0 × 10⁹/L",
        "4,000 cells/µL",
    ):
        assert words in text, words


def test_the_text_follows_the_documented_order() -> None:
    text = low(ethnicity="Black")
    marks = ["below the usual range", "ancestry", "help the body", "lower it", "One low result"]
    marks += ["signs of infection", "not a diagnosis"]
    places = [text.index(mark) for mark in marks]
    assert places == sorted(places)
    assert text.split("\n\n")[-1].startswith("Each lab has")


def test_a_high_text_names_leukocytosis_and_not_the_low_causes() -> None:
    text = interpret("15", age=40, sex="male").text
    assert "leukocytosis" in text
    assert "neutropenia" not in text
    assert "above the usual range of 5.0 to 10.0" in text


def test_a_normal_text_says_within_and_inclusive() -> None:
    text = interpret("4.5", age=40, sex="female").text
    assert "within the usual range of 4.5 to 11.0" in text
    assert "leukopenia" not in text.split("\n\n")[1]


def test_the_comparison_names_the_range_its_people_and_source() -> None:
    text = low()
    first = text.split("\n\n")[0]
    assert "4.5 to 11.0 × 10⁹/L for females" in first
    assert shipped_sources()["cleveland-2022"].title in first
    # the adult age of 18 is the library's reading, never the source's
    assert "This library uses it from age 18." in first
    assert "18 years and over" not in first


def test_a_low_count_above_the_threshold_says_so() -> None:
    text = interpret("4.2", age=40, sex="female").text
    assert "It is not below 4.0 × 10⁹/L" in text
    assert "count below this level is called leukopenia" not in text
    assert "it is not called leukopenia" in text


def test_children_text_says_ranges_depend_on_age() -> None:
    text = low(age=5)
    assert "change with age" in text
    assert "No leukopenia level is used for children" in text
    assert "change with age" not in low(age=40)


def test_ethnicity_note_only_for_the_groups_the_documents_name() -> None:
    for ethnicity in ("Black", "Arab", "Middle Eastern", "African American"):
        assert "African or Middle Eastern ancestry" in low(ethnicity=ethnicity)
        assert "very low count" in low(ethnicity=ethnicity)
    for ethnicity in ("White", "Asian", "Hispanic"):
        assert "ancestry" not in low(ethnicity=ethnicity)
    for value in ("6.0", "15"):
        assert "ancestry" not in interpret(value, age=40, sex="female", ethnicity="Black").text


def test_unknown_age_and_sex_are_said_in_the_text() -> None:
    text = low(age=None, sex=None)
    assert "No age was given" in text
    assert "No sex was given" in text


def test_blocks_cite_known_sources_only() -> None:
    known = shipped_sources()
    offenders = [
        (block.name, key)
        for block in blocks().values()
        for key in block.sources
        if key not in known
    ]
    assert offenders == []
    named = {name for a in analytes().values() for name in (*a.text_low, *a.text_high)}
    assert set(blocks()) == set(BLOCK_NAMES) | named


def _word_runs(text: str, size: int) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not on this machine")
def test_no_block_copies_a_run_of_eight_words_from_a_seed_document() -> None:
    seeds = set().union(*(_word_runs(p.read_text(), 8) for p in SEEDS.glob("*.txt")))
    offenders = [name for name, block in blocks().items() if _word_runs(block.text, 8) & seeds]
    assert offenders == []


# --- the blocks file is checked when it loads ---------------------------------------------

BAD_BLOCKS = [
    ("closing", 'text = "Just information."', "not a diagnosis"),
    ("closing", 'text = "You have leukopenia. This is not a diagnosis."', "diagnostic wording"),
    ("meaning_low", 'text = "Low: {nonsense}."', "unknown placeholder"),
    ("meaning_low", 'sources = ["nowhere"]\ntext = "Low."', "unknown source id"),
    ("children", "", "missing"),
    ("transient_low", 'role = "sometimes"\ntext = "Low."', "unknown role"),
    ("closing", 'text = "This rules out a problem. This is not a diagnosis."', "diagnostic"),
]


@pytest.mark.parametrize(("name", "body", "message"), BAD_BLOCKS)
def test_a_bad_blocks_file_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, body: str, message: str
) -> None:
    original = read_data_text("explanations.toml")
    start = original.index(f"[block.{name}]")
    end = original.find("[block.", start + 1) % (len(original) + 1)  # -1: to the end
    changed = original[:start] + f"[block.{name}]\n{body}\n\n" + original[end:]
    folder = tmp_path / "ranges"
    shutil.copytree(data._shipped_folder(), folder)  # type: ignore[arg-type]
    (folder / "explanations.toml").write_text(changed, encoding="utf-8")
    monkeypatch.setattr(data, "_shipped_folder", lambda: folder)
    data.clear_caches()
    try:
        with pytest.raises(RangeTableError, match=message) as caught:
            blocks()
    finally:
        monkeypatch.undo()
        data.clear_caches()
    assert caught.value.path == "ranges/explanations.toml"


def test_the_shipped_blocks_load() -> None:
    assert blocks()["closing"].text.startswith("This is not a diagnosis.")
