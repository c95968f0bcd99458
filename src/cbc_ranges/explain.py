"""Educational text: what a flagged count is compared with and what that can mean in general.

The text is assembled from short blocks kept as data in ``ranges/explanations.toml``,
each written in the project's own words for a lay reader (US school grade 8 or below,
no sentence over 20 words) and citing the source ids it rests on. The blocks chosen
depend on the flag, the leukopenia result, the neutropenia severity and grade, the
person's age group and sex, the ancestry notes and context ranges that apply, and
whether the value was implausible; which block is used when is written up in
``docs/interpretation.md`` ("The text").

An :class:`Explanation` holds two templates: the text, and a one-sentence summary
(most important first). Every text ends with a paragraph that says it is **not a
diagnosis**, and no block may use diagnostic wording ("you have", "rules out"...):
both are checked when the blocks load, and tested for every combination of inputs.

>>> from cbc_ranges.models import Person
>>> from cbc_ranges.ranges import get_table
>>> table = get_table()
>>> person = Person(age_years=40.0, sex="female")
>>> selection = table.select(age_years=40.0, sex="female")
>>> explanation = explain(flag="normal", leukopenia=False, comparator=None,
...                       selection=selection, person=person, table=table)
>>> explanation.render_summary("6.1")
'This white blood cell count is within the usual range for a woman.'
>>> text = explanation.render("6.1")
>>> text.startswith("A count of 6.1 × 10⁹/L is within the usual range of 4.5 to 11.0")
True
>>> "not a diagnosis" in text
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cbc_ranges.analytes import Analyte, ValueKind, analytes, get_analyte
from cbc_ranges.data import find_files, load, read_toml
from cbc_ranges.errors import RangeTableError
from cbc_ranges.models import (
    AgeEdge,
    Comparator,
    ContextRange,
    Flag,
    Grade,
    Person,
    Population,
    Source,
    format_number,
)
from cbc_ranges.people import ADULT_AGE, Age
from cbc_ranges.ranges import RangeTable, Selection

__all__ = [
    "BLOCK_NAMES",
    "DIAGNOSTIC_WORDING",
    "PLACEHOLDERS",
    "ROLES",
    "Block",
    "Explanation",
    "age_group",
    "blocks",
    "explain",
    "is_marked",
]

#: the blocks ``explanations.toml`` must define
BLOCK_NAMES = (
    "summary_low",
    "summary_low_marked",
    "summary_normal",
    "summary_high",
    "summary_high_marked",
    "summary_censored",
    "summary_none",
    "summary_implausible",
    "compare_low",
    "compare_low_marked",
    "compare_normal",
    "compare_high",
    "compare_high_marked",
    "compare_censored",
    "compare_none",
    "compare_implausible",
    "range_source",
    "lab_range_source",
    "table_range",
    "age_unknown",
    "sex_unknown",
    "leukopenia_below",
    "leukopenia_not_below",
    "leukopenia_undetermined",
    "ethnicity",
    "duffy",
    "severity_mild",
    "severity_moderate",
    "severity_severe",
    "grade",
    "meaning_low",
    "causes_low",
    "transient_low",
    "infection_signs",
    "infection_signs_child",
    "infection_signs_infant",
    "urgent_low",
    "urgent_low_child",
    "urgent_low_infant",
    "urgent_high",
    "meaning_high",
    "advice_high",
    "meaning_normal",
    "children",
    "children_band",
    "children_no_threshold",
    "about_ranges",
    "closing",
)

#: the placeholders a block may use
PLACEHOLDERS = frozenset(
    {
        "value",
        "low",
        "high",
        "span",
        "table_span",
        "table_who",
        "table_where",
        "who",
        "band",
        "population",
        "source",
        "threshold",
        "threshold_cells",
        "threshold_source",
        "person",
        "whom",
        "noun",
        "thing",
        "unit",
        "label",
        "grade",
        "grade_system",
        "grade_term",
        "context_low",
        "context_high",
        "context_population",
        "context_source",
        "context_where",
    }
)

#: how a block named by an analyte is used (``explanations.toml`` says more)
ROLES = ("meaning", "transient", "advice")

#: wording that would read as a diagnosis; no text may contain it (case ignored)
DIAGNOSTIC_WORDING = re.compile(
    r"\byou have\b|\byou(?:'|’)ve got\b|\byou do not have\b|\byou don(?:'|’)t have\b"
    r"|\byou are suffering\b|\bsuffering from\b|\bdiagnosed with\b|\bis diagnosed\b"
    r"|\byour diagnosis\b|\bconfirms\b|\brules out\b|\bthis shows\b"
    r"|\bthis is normal for you\b|\byou should take\b|\byou need treatment\b"
    r"|\byou are (?:ill|sick)\b|\byou(?:'|’)re (?:ill|sick)\b",
    re.IGNORECASE,
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SEVERITIES = ("mild", "moderate", "severe")
_WHERE = {
    "low": "below",
    "normal": "within",
    "high": "above",
    "indeterminate": "on both sides of a limit of",
}


@dataclass(frozen=True)
class Block:
    """One block of text, the ids of the sources it rests on, and its role."""

    name: str
    text: str
    sources: tuple[str, ...]
    role: Literal["meaning", "transient", "advice"] = "meaning"


@dataclass(frozen=True)
class Explanation:
    """The text and the one-sentence summary for one kind of result, with ``{value}``
    still to fill in, and their sources."""

    template: str
    sources: tuple[Source, ...]
    summary_template: str = ""
    # each template split at {value}, once: joining is much cheaper than a search per call
    parts: tuple[str, ...] = field(init=False, repr=False, compare=False)
    summary_parts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.template.split("{value}")))
        object.__setattr__(self, "summary_parts", tuple(self.summary_template.split("{value}")))

    def render(self, value: str) -> str:
        """The text for a count written as ``value`` (in 10^9/L, comparator included).

        >>> Explanation(template="A count of {value} × 10⁹/L.", sources=()).render("<1.0")
        'A count of <1.0 × 10⁹/L.'
        """
        return value.join(self.parts)

    def render_summary(self, value: str) -> str:
        """The one-sentence summary for a count written as ``value``.

        >>> Explanation(template="", sources=(), summary_template="{value} is low.").render_summary(
        ...     "3.2")
        '3.2 is low.'
        """
        return value.join(self.summary_parts)


def blocks() -> dict[str, Block]:
    """The text blocks, loaded once and checked (all present, known sources,
    placeholders and roles, no diagnostic wording, "not a diagnosis" in the closing
    block, every block an analyte names defined).

    Blocks come from ``ranges/explanations.toml`` and from an ``explanations.toml``
    in each extra data folder (new blocks only; a shipped block cannot be replaced).

    >>> blocks()["closing"].text.startswith("This is not a diagnosis.")
    True
    """
    return load("blocks", _load_blocks)


def _load_blocks() -> dict[str, Block]:
    from cbc_ranges.ranges import shipped_sources

    known = shipped_sources()
    found: dict[str, Block] = {}
    path = "ranges/explanations.toml"
    for file in find_files("explanations.toml"):
        entries = read_toml(file.read_text(), path=file.shown).get("block", {})
        if not isinstance(entries, dict):
            raise RangeTableError("'block' must be a table of blocks", path=file.shown)
        for name, entry in entries.items():
            if name in found:
                raise RangeTableError(
                    f"block {name!r} is already defined", path=file.shown, field=name
                )
            found[name] = _read_block(name, entry, file.shown, known)
    for name in BLOCK_NAMES:
        if name not in found:
            raise RangeTableError(
                f"block {name!r} is missing or has no text", path=path, field=name
            )
    for analyte in analytes().values():
        for name in (*analyte.text_low, *analyte.text_high, *analyte.text_normal):
            if name not in found:
                raise RangeTableError(
                    f"analyte {analyte.id!r} names the text block {name!r}, which no "
                    "explanations.toml defines",
                    path=analyte.path,
                    field=name,
                )
    if "not a diagnosis" not in found["closing"].text:
        raise RangeTableError("the closing block must say 'not a diagnosis'", path=path)
    return found


def _read_block(name: str, entry: object, path: str, known: Mapping[str, Source]) -> Block:
    if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
        raise RangeTableError(f"block {name!r} is missing or has no text", path=path, field=name)
    text = " ".join(entry["text"].split())
    cited = entry.get("sources", [])
    if not isinstance(cited, list) or not all(isinstance(key, str) for key in cited):
        raise RangeTableError("sources must be a list of source ids", path=path, field=name)
    unknown = [key for key in cited if key not in known]
    if unknown:
        raise RangeTableError(f"unknown source id {unknown[0]!r}", path=path, field=name)
    role = entry.get("role", "meaning")
    if role not in ROLES:
        raise RangeTableError(
            f"unknown role {role!r} (one of {', '.join(ROLES)})", path=path, field=name
        )
    bad = [key for key in _PLACEHOLDER.findall(text) if key not in PLACEHOLDERS]
    if bad:
        raise RangeTableError(f"unknown placeholder {{{bad[0]}}}", path=path, field=name)
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise RangeTableError("a brace that is not part of a {placeholder}", path=path, field=name)
    wording = DIAGNOSTIC_WORDING.search(text)
    if wording:
        raise RangeTableError(f"diagnostic wording {wording.group(0)!r}", path=path, field=name)
    return Block(name=name, text=text, sources=tuple(cited), role=role)


def age_group(person: Person) -> str:
    """``"adult"`` (18 and over), ``"child"``, ``"infant"`` (under one year) or ``"unknown"``.

    >>> age_group(Person(age_years=17.5)), age_group(Person(age_years=0.5)), age_group(Person())
    ('child', 'infant', 'unknown')
    """
    if person.age_years is None:
        return "unknown"
    if person.age_years >= ADULT_AGE:
        return "adult"
    return "infant" if person.age_years < 1 else "child"


def is_marked(severity: str | None, grade: Grade | None) -> bool:
    """Whether a count is markedly outside its range: severe neutropenia, or grade 3 or 4.

    >>> is_marked("severe", None), is_marked("moderate", None)
    (True, False)
    >>> is_marked(None, Grade(system="CTCAE v5.0", grade=3, source="ctcae"))
    True
    """
    return severity == "severe" or (grade is not None and grade.grade >= 3)


def _describe_person(person: Person) -> str:
    group = age_group(person)
    kind = {"adult": "adult", "child": "child", "infant": "baby"}.get(group, "")
    if group == "unknown":
        if person.sex == "unknown":
            return "a person of unknown age and sex"
        return f"a {person.sex} person of unknown age"
    if person.sex == "unknown":
        return f"{'an' if kind == 'adult' else 'a'} {kind} of unknown sex"
    return f"a {person.sex} {kind}"


def _years(edge: AgeEdge | None, years: float | None) -> float | None:
    if edge is not None:
        return Age.of(edge.value, edge.unit).years
    return years


def _edge_text(edge: AgeEdge | None, years: float | None) -> str:
    if edge is None:
        return f"age {format_number(years or 0.0, places=2, keep_one=False)}"
    number = format_number(edge.value, places=2, keep_one=False)
    if edge.unit == "years":
        return f"age {number}"
    unit = edge.unit[:-1] if number == "1" else edge.unit
    return f"{number} {unit}"


def _band(population: Population) -> str:
    """The ages the library uses a row for: its own reading of the row's band."""
    start, end = population.start, population.end
    begins = _years(start, population.age_from)
    ends = _years(end, population.age_to)
    opening = "" if not begins else f"from {_edge_text(start, population.age_from)}"
    if ends is None:
        return opening or "at any age"
    closing = f"up to {_edge_text(end, population.age_to)}"
    return f"{opening} {closing}" if opening else f"from birth {closing}"


def _spans_childhood(population: Population) -> bool:
    begins = _years(population.start, population.age_from) or 0.0
    ends = _years(population.end, population.age_to)
    return begins <= 0 and (ends is None or ends >= ADULT_AGE)


def _who(population: Population, labels: Mapping[str, str]) -> str:
    """Whom a row is for, in plain words, from its sex and population (not its ages)."""
    if population.sex in ("female", "male"):
        who = f"{population.sex}s"
    else:
        ends = _years(population.end, population.age_to)
        begins = _years(population.start, population.age_from) or 0.0
        if ends is not None and ends <= 1:
            who = "babies"
        elif ends is not None and ends <= ADULT_AGE:
            who = "children"
        elif begins >= ADULT_AGE:
            who = "adults"
        else:
            who = "people"
    group = population.ethnicity
    if group == "any":
        return who
    if "duffy" in group:
        return f"{who} who are Duffy-null"
    return f"{who} of {labels.get(group, group.replace('_', ' '))} ancestry"


def _whom(person: Person, population: Population | None) -> str:
    group = age_group(person)
    if group == "adult":
        return {"female": "a woman", "male": "a man"}.get(person.sex, "an adult")
    if group == "unknown":
        return "an adult"  # the adult range was used; the text says no age was given
    kind = "baby" if group == "infant" else "child"
    if population is not None and not _spans_childhood(population):
        return f"a {kind} of this age"
    return f"a {kind}"


def _thing(about: Analyte, value_kind: ValueKind) -> str:
    """The result's name with the analyte in it, for the summary ("count of neutrophils")."""
    name = about.label[:1].lower() + about.label[1:]
    if value_kind == "percent":
        return f"share of {name}"
    noun = about.noun_for(value_kind)
    return name if name.endswith(noun) else f"{noun.split()[-1]} of {name}"


_CUTS = (" (", ": ", " [", ", citing")


def _cite(source: Source) -> str:
    """A source by its title in quotes; a long title (over 12 words) up to its first
    parenthesis, colon or bracket, so that a sentence stays short (the full title is in
    the result's sources).

    >>> _cite(Source(id="x", title="Leukopenia: Symptoms, Causes, and Treatment", publisher=""))
    '“Leukopenia: Symptoms, Causes, and Treatment”'
    >>> _cite(Source(id="x", title="Evaluation of patients with leukocytosis in primary care "
    ...     "for adults (Riley LK, Rupert J)", publisher=""))
    '“Evaluation of patients with leukocytosis in primary care for adults”'
    """
    title = source.title
    if len(re.findall(r"[A-Za-z]+", title)) > 12:
        cuts = [title.find(cut) for cut in _CUTS if title.find(cut) > 0]
        if cuts:
            title = title[: min(cuts)]
    return f"“{title}”"


def explain(
    *,
    flag: Flag,
    leukopenia: bool | None,
    comparator: Comparator | None,
    selection: Selection,
    person: Person,
    table: RangeTable,
    analyte: Analyte | str = "wbc",
    value_kind: ValueKind = "count",
    severity: str | None = None,
    grade: Grade | None = None,
    context_ranges: Sequence[ContextRange] = (),
    implausible: bool = False,
    table_range: ContextRange | None = None,
) -> Explanation:
    """The text and summary (``{value}`` left to fill) and cited sources for one kind of result.

    ``selection`` is what :meth:`RangeTable.select` picked for ``person``; ``severity``
    the neutropenia severity (``mild``, ``moderate``, ``severe``) and ``grade`` the
    grade band the value falls in, when they apply; ``context_ranges`` other ranges
    with the value's flag in each (the Duffy-null range); ``implausible`` that the
    value is outside the analyte's plausible range (its flag is ``indeterminate``);
    ``table_range`` the table's own range with the value's flag in it, when the range
    compared with is the one the reporting laboratory gave (``lab_range=``).
    A count is *markedly* low or high with severe neutropenia or grade 3 or 4: then
    the text says so plainly and asks for contact with a healthcare professional the
    same day. The result depends only on its arguments, so callers may cache it.
    """
    library = blocks()
    about = get_analyte(analyte)
    reference, threshold, variation = selection.reference, selection.threshold, selection.variation
    population = reference.population if reference is not None else None
    values: dict[str, str] = {
        "person": _describe_person(person),
        "whom": _whom(person, population),
        "noun": about.noun_for(value_kind),
        "thing": _thing(about, value_kind),
        "label": about.label,
        "unit": " %" if value_kind == "percent" else " × 10⁹/L",
    }
    lab = reference is not None and reference.source.id == LAB_SOURCE_ID
    if reference is not None and population is not None:
        values.update(
            low=format_number(reference.low or 0.0),
            high=format_number(reference.high or 0.0),
            span=_span(reference.low, reference.high),
            who="the lab that ran the test" if lab else _who(population, table.group_labels),
            band=_band(population),
            population=population.description,
            source=_cite(reference.source),
        )
    if table_range is not None:
        values.update(
            table_span=_span(table_range.low, table_range.high),
            table_who=table_range.population,
            table_where=_WHERE[table_range.flag],
        )
    threshold_low = threshold.high if threshold is not None else None
    if threshold is not None and threshold_low is not None:
        values.update(
            threshold=format_number(threshold_low),
            threshold_cells=f"{round(threshold_low * 1000):,}",
            threshold_source="the same source"
            if reference is not None and threshold.source == reference.source
            else _cite(threshold.source),
        )
    if grade is not None:
        values.update(grade=str(grade.grade), grade_system=grade.system, grade_term=grade.term)
    if context_ranges:
        context = context_ranges[0]
        values.update(
            context_low=format_number(context.low),
            context_high=format_number(context.high),
            context_population=context.population,
            context_source=_cite(context.source),
            context_where=_WHERE[context.flag],
        )

    goes_low = flag == "low" or leukopenia is True
    marked = not implausible and is_marked(severity, grade)
    marked_low = marked and goes_low
    # a severity is neutropenia's: only a grade marks a high count
    marked_high = not implausible and flag == "high" and grade is not None and grade.grade >= 3

    paragraphs: list[list[str]] = []
    if implausible:
        summary = "summary_implausible"
        paragraphs.append(["compare_implausible"])
    else:
        summary = _summary_block(flag, reference is not None, marked_low, marked_high)
        paragraphs += _body(
            flag=flag,
            leukopenia=leukopenia,
            comparator=comparator,
            selection=selection,
            person=person,
            about=about,
            severity=severity,
            grade=grade,
            context_ranges=context_ranges,
            marked_low=marked_low,
            marked_high=marked_high,
            library=library,
            table_range=table_range,
        )
    paragraphs.append(
        ["about_ranges", "closing"] if reference is not None and not implausible else ["closing"]
    )

    used = [library[name] for paragraph in paragraphs for name in paragraph]
    used.append(library[summary])
    texts = (" ".join(library[name].text for name in paragraph) for paragraph in paragraphs)
    # the blocks hold only {placeholder} braces (checked on loading): str.format_map fills
    # them, and leaves {value} and any placeholder without a value as it is
    kept = _Kept(values)
    template = "\n\n".join(texts).format_map(kept)
    summary_template = library[summary].text.format_map(kept)
    # every row the result reports on: the range, the limits and grade bands, the note
    rows = (
        row
        for row in (reference, threshold, variation, *selection.limits, *selection.grades)
        if row is not None
    )
    cited = [row.source.id for row in rows]
    cited += [key for block in used for key in block.sources]
    sources = _ordered(cited, table.sources)
    # a context range may come from another table: its source is cited all the same
    extra = [c.source for c in context_ranges if c.source not in sources]
    sources += tuple(dict.fromkeys(extra))
    return Explanation(template=template, sources=sources, summary_template=summary_template)


#: the source id of a range the reporting laboratory gave (cbc_ranges.interpretation.LAB_SOURCE)
LAB_SOURCE_ID = "reporting-laboratory"


def _span(low: float | None, high: float | None) -> str:
    """A range in words: "4.5 to 11.0"; a lab's one-sided range "up to 11.0", "4.0 and above".

    >>> _span(4.5, 11.0), _span(None, 11.0), _span(4.0, None)
    ('4.5 to 11.0', 'up to 11.0', '4.0 and above')
    """
    if low is None:
        return f"up to {format_number(high or 0.0)}"
    if high is None:
        return f"{format_number(low)} and above"
    return f"{format_number(low)} to {format_number(high)}"


def _summary_block(flag: Flag, has_range: bool, marked_low: bool, marked_high: bool) -> str:
    if not has_range:
        return "summary_none"
    if flag == "indeterminate":
        return "summary_censored"
    if (marked_low and flag == "low") or (marked_high and flag == "high"):
        return f"summary_{flag}_marked"
    return f"summary_{flag}"


def _body(
    *,
    flag: Flag,
    leukopenia: bool | None,
    comparator: Comparator | None,
    selection: Selection,
    person: Person,
    about: Analyte,
    severity: str | None,
    grade: Grade | None,
    context_ranges: Sequence[ContextRange],
    marked_low: bool,
    marked_high: bool,
    library: Mapping[str, Block],
    table_range: ContextRange | None = None,
) -> list[list[str]]:
    """The paragraphs between the comparison and the closing, in the order of the docs."""
    reference, threshold, variation = selection.reference, selection.threshold, selection.variation
    threshold_low = threshold.high if threshold is not None else None
    group = age_group(person)
    goes_low = flag == "low" or leukopenia is True
    censored_below = flag == "indeterminate" and comparator in ("<", "<=")

    # how the value compares, with which range and source
    lab = reference is not None and reference.source.id == LAB_SOURCE_ID
    source_block = "lab_range_source" if lab else "range_source"
    if reference is None:
        first = ["compare_none"]
    elif flag == "indeterminate":
        first = ["compare_censored", source_block]
    elif (marked_low and flag == "low") or (marked_high and flag == "high"):
        first = [f"compare_{flag}_marked", source_block]
    else:
        first = [f"compare_{flag}", source_block]
    if table_range is not None:
        first.append("table_range")
    if group == "unknown":
        first.append("age_unknown")
    if reference is not None and person.sex == "unknown" and reference.population.sex == "unknown":
        first.append("sex_unknown")
    if threshold_low is not None:
        if leukopenia is True:
            first.append("leukopenia_below")
        elif leukopenia is False and flag == "low":
            first.append("leukopenia_not_below")
        elif leukopenia is None and comparator is not None and (goes_low or censored_below):
            first.append("leukopenia_undetermined")
    paragraphs = [first]

    # ancestry: only for a low count or a limit at the low edge, right after the comparison
    if goes_low or censored_below:
        if context_ranges:
            paragraphs.append(["duffy"])
        elif variation is not None:
            paragraphs.append(["ethnicity"])

    # severity and grade
    graded = []
    if severity in _SEVERITIES and goes_low:
        graded.append(f"severity_{severity}")
    if grade is not None and flag in ("low", "high"):
        graded.append("grade")
    if graded:
        paragraphs.append(graded)

    # children: how far the range fits a child
    if group in ("child", "infant"):
        child = []
        if reference is not None:
            child.append("children" if _spans_childhood(reference.population) else "children_band")
        if threshold is not None and threshold_low is None:
            child.append("children_no_threshold")
        if child:
            paragraphs.append(child)

    # what it can mean in general, its causes, and when to contact a professional
    if goes_low:
        names = about.text_low
    elif flag == "high":
        names = about.text_high
    elif flag == "normal":
        names = about.text_normal
    elif censored_below:
        names = tuple(name for name in about.text_low if library[name].role == "advice")
    else:
        names = ()
    marked = marked_low or marked_high
    meaning = [name for name in names if library[name].role == "meaning"]
    paragraphs += [meaning[start : start + 2] for start in range(0, len(meaning), 2)]
    if not marked:
        paragraphs += [[name] for name in names if library[name].role == "transient"]
    advice = [name for name in names if library[name].role == "advice"]
    if marked:
        urgent = "urgent_low" if marked_low else "urgent_high"
        paragraphs.append([_for_age(urgent, group, library)])
    elif advice:
        paragraphs.append([_for_age(name, group, library) for name in advice])
    return paragraphs


def _for_age(name: str, group: str, library: Mapping[str, Block]) -> str:
    """A block's version for a baby or a child, when one is defined."""
    if group in ("infant", "child") and f"{name}_{group}" in library:
        return f"{name}_{group}"
    return name


class _Kept(dict[str, str]):
    """Placeholder values; a placeholder without one stays in the text as it was."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _ordered(cited: Iterable[str], sources: Mapping[str, Source]) -> tuple[Source, ...]:
    wanted = set(cited)
    return tuple(source for key, source in sources.items() if key in wanted)
