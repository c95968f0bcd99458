"""Reading the person: age texts, sex words (never assumed male) and free-text ethnicity."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbc_ranges.data import read_toml
from cbc_ranges.errors import CBCError, PersonError
from cbc_ranges.people import (
    AGE_UNITS,
    SEX_CODES,
    Age,
    AgeUnit,
    match_ethnicity,
    normalise_words,
    parse_age,
    parse_sex,
    read_age,
    sex_is_recognised,
)
from cbc_ranges.ranges import ancestry_groups, get_table, read_data_text

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
        10**400,
        "1" * 400,
        "1" * 23,  # too many years, not "a part has no unit"
    ],
)
def test_bad_ages_raise_person_error(age: object) -> None:
    with pytest.raises(PersonError) as caught:
        parse_age(age)  # type: ignore[arg-type]
    assert isinstance(caught.value, CBCError)
    assert caught.value.raw == age or age != age  # nan is not equal to itself
    assert len(str(caught.value)) < 200  # a huge input is not echoed whole
    if age == "1" * 23:
        assert "between 0 and 150 years" in str(caught.value)


@pytest.mark.parametrize("age", [True, [3], {"years": 3}, b"3", object()])
def test_an_age_of_the_wrong_type_is_a_type_error_naming_the_parameter(age: object) -> None:
    with pytest.raises(TypeError, match=r"^age must be .* not "):
        parse_age(age)  # type: ignore[arg-type]


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
    """Only a code in SEX_CODES that means male is read as male."""
    male_codes = {code for code, sex in SEX_CODES.items() if sex == "male"}
    if text.strip().lower() not in male_codes:
        assert parse_sex(text) != "male"
    assert male_codes >= {"m", "male"} and not male_codes & {"u", "unknown", "x", ""}


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


# --- ancestry: every alias of ethnicity_groups.toml, negations, the measured failures ------

_GROUPS_FILE = read_toml(read_data_text("ethnicity_groups.toml"), path="ethnicity_groups.toml")
_ALIASES = [(alias, group) for group, entry in _GROUPS_FILE.items() for alias in entry["aliases"]]


@pytest.mark.parametrize(("alias", "group"), _ALIASES)
def test_every_alias_matches_its_group_alone_and_inside_a_phrase(alias: str, group: str) -> None:
    groups = ancestry_groups()  # every group of the file; a table names a few of them
    assert match_ethnicity(alias, groups) == group
    assert match_ethnicity(alias.upper().replace(" ", "-"), groups) == group
    assert match_ethnicity(f"Patient is {alias} (self-reported)", groups) == group


@pytest.mark.parametrize(("alias", "group"), _ALIASES)
def test_every_alias_is_negated_by_not_and_by_non(alias: str, group: str) -> None:
    groups = ancestry_groups()
    assert match_ethnicity(f"not {alias}", groups) is None
    assert match_ethnicity(f"Not {alias.title()}", groups) is None
    if not alias.startswith("non "):
        assert match_ethnicity(f"non-{alias}", groups) is None


def test_every_alias_has_a_note_and_no_alias_is_in_two_groups() -> None:
    seen: dict[str, str] = {}
    for group, entry in _GROUPS_FILE.items():
        notes = entry.get("notes", {})
        assert sorted(notes) == sorted(entry["aliases"]), group
        assert all(note.strip() for note in notes.values()), group
        for alias in entry["aliases"]:
            assert normalise_words(alias) == alias  # written as they are compared
            assert seen.setdefault(alias, group) == group, alias


@pytest.mark.parametrize(
    ("text", "group"),
    [
        # measured failures of the first matcher
        ("Somali", "african"),
        ("Ethiopian", "african"),
        ("Nigerian", "african"),
        ("Yemeni", "middle_eastern"),
        ("Saudi", "middle_eastern"),
        ("Not Black", None),
        ("non-Black", None),
        ("non black", None),
        ("not black", None),
        ("White South African", None),
        ("Middle Eastern or North African", "middle_eastern"),
        ("middle eastern/north african", "middle_eastern"),
        ("North African", "middle_eastern"),
        # negations and compounds
        ("Non-Hispanic White", None),
        ("not African American", None),
        ("Not Black or African American", None),
        ("no African ancestry", None),
        ("White Kenyan", None),
        ("white, south african", "african"),  # two statements: the comma ends the compound
        ("Non-Hispanic Black", "african"),
        ("Black, not Hispanic", "african"),
        ("Not Hispanic or Latino, Black", "african"),
        ("not Hispanic but Black", "african"),
        ("White and Black Caribbean", "african"),
        ("Sub-Saharan African", "african"),
        ("South Sudanese", "african"),
        ("African Caribbean", "african"),
        ("MENA", "middle_eastern"),
        ("Iranian", "middle_eastern"),
        ("Caucasian, not Arab", None),
        ("Somaliland", None),  # whole words only
        ("Omanisation", None),
        ("Duffy null", "duffy_null"),  # a group with no aliases matches its own name
    ],
)
def test_ancestry_texts_of_the_standard_table(text: str, group: str | None) -> None:
    assert match_ethnicity(text, get_table("standard").groups) == group


def test_only_the_first_200_characters_are_read_and_a_cut_word_never_matches() -> None:
    groups = get_table("standard").groups
    assert match_ethnicity("x " * 99 + "Black", groups) is None  # starts at character 198
    assert match_ethnicity("x" * 196 + " Black", groups) is None  # "Bl" is not a word
    assert match_ethnicity("x" * 194 + " Black", groups) == "african"
    assert match_ethnicity("Black" + " x" * 100_000, groups) == "african"


@given(st.text(max_size=300))
def test_any_text_gives_a_group_of_the_standard_table_or_none(text: str) -> None:
    groups = get_table("standard").groups
    assert match_ethnicity(text, groups) in (None, *groups)


def test_normalise_words() -> None:
    assert normalise_words("  Middle-Eastern / ARAB ") == "middle eastern arab"


@pytest.mark.parametrize("sex", [5, 1.0, ["F"], b"F"])
def test_a_sex_of_the_wrong_type_is_a_type_error_naming_the_parameter(sex: object) -> None:
    with pytest.raises(TypeError, match=r"^sex must be a text or None, not "):
        parse_sex(sex)  # type: ignore[arg-type]


# --- Age: one representation, calendar-correct -------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "days", "months", "said"),
    [
        ("2024-01-01", "2024-01-08", 7, 7 / 31, "7 days"),
        ("2024-01-31", "2024-02-29", 29, 1.0, "1 month"),  # a short month ends on its last day
        ("2023-01-31", "2023-02-28", 28, 1.0, "1 month"),
        ("2024-01-15", "2024-03-15", 60, 2.0, "2 months"),
        ("2022-06-10", "2024-06-09", 730, 23 + 30 / 31, "23 months"),
        ("2022-06-10", "2024-06-10", 731, 24.0, "2 years"),
        ("2020-02-29", "2021-02-28", 365, 12.0, "12 months"),  # a leap-day birthday
        ("1980-05-05", "2025-05-04", 16435, 539 + 29 / 30, "44 years"),
        ("2024-03-03", "2024-03-03", 0, 0.0, "0 days"),
    ],
)
def test_age_between_two_dates_is_calendar_exact(
    birth: str, on: str, days: int, months: float, said: str
) -> None:
    age = Age.between(dt.date.fromisoformat(birth), dt.date.fromisoformat(on))
    assert age.days == days
    assert age.months == pytest.approx(months)
    assert str(age) == said


def test_ages_at_the_end_of_the_calendar() -> None:
    assert Age.between(dt.date(9999, 12, 31), dt.date(9999, 12, 31)).days == 0
    late = Age.between(dt.date(9999, 1, 1), dt.date(9999, 12, 31))
    assert 11 < late.months < 12  # not a completed year: that ends on 10000-01-01


def test_an_age_cannot_end_before_it_starts() -> None:
    with pytest.raises(PersonError, match="before the birth date"):
        Age.between(dt.date(2024, 1, 2), dt.date(2024, 1, 1))


@pytest.mark.parametrize(
    ("given", "said", "unit", "measure"),
    [
        ("7 days", "7 days", "days", 7.0),
        ("3 wk", "3 weeks", "weeks", 3.0),
        ("6 months", "6 months", "months", 6.0),
        ("18 months", "18 months", "months", 18.0),
        ("2 y 3 m", "2 years 3 months", "months", 27.0),
        ("1 year", "12 months", "years", 1.0),
        ("45", "45 years", "years", 45.0),
        (0.5, "6 months", "months", 6.0),
        (7 / 365.25, "7 days", "days", 7.0),
        (45, "45 years", "years", 45.0),
    ],
)
def test_spoken_ages_print_as_people_say_them(
    given: object, said: str, unit: AgeUnit, measure: float
) -> None:
    age = read_age(given)  # type: ignore[arg-type]
    assert age is not None
    assert str(age) == said
    assert age.in_unit(unit) == pytest.approx(measure)
    assert "0.0" not in str(age)


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2090, 1, 1)),
    st.integers(min_value=0, max_value=40_000),
)
def test_dates_give_completed_months_that_add_up(birth: dt.date, elapsed: int) -> None:
    on = birth + dt.timedelta(days=elapsed)
    if on > dt.date(2100, 1, 1):
        return
    age = Age.between(birth, on)
    assert age.days == elapsed
    whole = math.floor(age.months)
    assert 0 <= age.months - whole < 1
    # a completed month is 28 to 31 days: the months never pass the date, one more would
    assert whole * 28 <= elapsed < (whole + 1) * 31


@pytest.mark.parametrize(
    ("code", "sex"),
    [("w", "female"), ("Weiblich", "female"), ("männlich", "male"), ("femme", "female"),
     ("homme", "male"), ("U", "unknown"), ("unknown", "unknown"), ("unk", "unknown")],
)  # fmt: skip
def test_sex_codes_of_other_languages_and_unknown(code: str, sex: str) -> None:
    from cbc_ranges import interpret

    assert parse_sex(code) == sex
    result = interpret("5.0", age=40, sex=code)
    assert result.person.sex == sex
    assert not any("not recognised" in warning for warning in result.warnings)


@pytest.mark.parametrize("word", ["newborn", "Neonate", " new born "])
def test_newborn_is_day_zero(word: str) -> None:
    age = read_age(word)
    assert age is not None and (age.days, age.months) == (0.0, 0.0)
    assert str(age) == word.strip().lower()
