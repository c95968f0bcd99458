"""Reading the person: age texts, sex words (never assumed male) and free-text ethnicity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbc_ranges.errors import CBCError, PersonError
from cbc_ranges.people import (
    AGE_UNITS,
    match_ethnicity,
    normalise_words,
    parse_age,
    parse_sex,
    sex_is_recognised,
)
from cbc_ranges.ranges import get_table

DAY = 1 / 365.25


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("34", 34.0),
        ("2y", 2.0),
        ("2 y", 2.0),
        ("2 yrs", 2.0),
        ("2 Years", 2.0),
        ("6 months", 0.5),
        ("6mo", 0.5),
        ("6m", 0.5),
        ("18 months", 1.5),
        ("10 days", 10 * DAY),
        ("1 d", DAY),
        ("3 weeks", 21 * DAY),
        ("2wk", 14 * DAY),
        ("1 year 6 months", 1.5),
        ("1y6m", 1.5),
        ("1 y, 6 m", 1.5),
        ("1,5 years", 1.5),
        ("0.5", 0.5),
        (" 45 ", 45.0),
        ("150", 150.0),
        ("0", 0.0),
    ],
)
def test_age_texts(text: str, years: float) -> None:
    assert parse_age(text) == pytest.approx(years)


@pytest.mark.parametrize("age", [34, 34.0, 0, 0.25, 150])
def test_numbers_are_years(age: float) -> None:
    assert parse_age(age) == float(age)


@pytest.mark.parametrize("age", [None, "", "   "])
def test_no_age_is_none(age: str | None) -> None:
    assert parse_age(age) is None


@pytest.mark.parametrize(
    "age",
    [
        "-3 years",
        "−3",
        "-1",
        "151",
        "200 years",
        "abc",
        "6 moons",
        "six months",
        "3 years old",
        "1 year 6",
        "y",
        "2..5",
        -1,
        -0.01,
        151,
        math.nan,
        math.inf,
        True,
    ],
)
def test_bad_ages_raise_person_error(age: object) -> None:
    with pytest.raises(PersonError) as caught:
        parse_age(age)  # type: ignore[arg-type]
    assert isinstance(caught.value, CBCError)
    assert caught.value.raw == age or age != age  # nan is not equal to itself


@given(st.text(max_size=30))
def test_any_text_gives_an_age_in_range_or_a_person_error(text: str) -> None:
    try:
        years = parse_age(text)
    except PersonError:
        return
    assert years is None or 0 <= years <= 150


@given(st.floats(min_value=0, max_value=150), st.sampled_from(sorted(AGE_UNITS)))
def test_a_number_with_any_unit_reads_as_that_many_units(number: float, unit: str) -> None:
    text = f"{number!r} {unit}"
    if "e" in repr(number):  # scientific notation is not an age text
        return
    assert parse_age(text) == pytest.approx(number * AGE_UNITS[unit])


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("F", "female"),
        ("f", "female"),
        ("female", "female"),
        ("FEMALE", "female"),
        (" Female ", "female"),
        ("M", "male"),
        ("m", "male"),
        ("Male", "male"),
        ("MALE", "male"),
        (None, "unknown"),
        ("", "unknown"),
        ("U", "unknown"),
        ("other", "unknown"),
        ("x", "unknown"),
        ("unknown", "unknown"),
    ],
)
def test_sex_words(text: str | None, sex: str) -> None:
    assert parse_sex(text) == sex
    assert sex_is_recognised(text) == (sex != "unknown")


@given(st.text(max_size=12))
def test_male_is_never_assumed(text: str) -> None:
    if text.strip().lower() not in ("m", "male"):
        assert parse_sex(text) != "male"


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("African", "african"),
        ("african american", "african"),
        ("African-American", "african"),
        ("Black", "african"),
        ("Black or African American", "african"),
        ("BLACK BRITISH", "african"),
        ("Afro-Caribbean", "african"),
        ("Middle Eastern", "middle_eastern"),
        ("middle-eastern", "middle_eastern"),
        ("Arab", "middle_eastern"),
        ("Arabic", "middle_eastern"),
        ("White", None),
        ("Asian", None),
        ("Blackburn", None),  # whole words only
        ("Arabella", None),
        ("", None),
        (None, None),
    ],
)
def test_ethnicity_is_matched_to_the_groups_of_the_table(text: str | None, group: str) -> None:
    assert match_ethnicity(text, get_table().groups) == group


def test_a_group_name_matches_itself_even_without_aliases() -> None:
    assert match_ethnicity("South Asian", {"south_asian": ()}) == "south_asian"


@given(st.text(max_size=40))
def test_any_ethnicity_text_gives_a_known_group_or_none(text: str) -> None:
    groups = get_table().groups
    assert match_ethnicity(text, groups) in (None, *groups)


def test_normalise_words() -> None:
    assert normalise_words("  Middle-Eastern / ARAB ") == "middle eastern arab"
