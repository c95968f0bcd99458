"""Educational text: what a flagged count is compared with and what that can mean in general.

The text is assembled from short blocks kept as data in ``ranges/explanations.toml``,
each written in the project's own words and citing the source ids it rests on. The
blocks chosen depend on the flag, the leukopenia result, the person's age group and
sex, and whether the table notes an ethnic variation for the person's group; which
block is used when is written up in ``docs/interpretation.md``.

Every text ends with a paragraph that says it is **not a diagnosis**, and no block
may use diagnostic wording ("you have", "diagnosed with"...): both are checked when
the blocks load, and tested for every combination of inputs.

>>> from cbc_ranges.models import Person
>>> from cbc_ranges.ranges import get_table
>>> table = get_table()
>>> person = Person(age_years=40.0, sex="female")
>>> selection = table.select(age_years=40.0, sex="female")
>>> explanation = explain(flag="normal", leukopenia=False, comparator=None,
...                       selection=selection, person=person, table=table)
>>> text = explanation.render("6.1")
>>> text.startswith("A count of 6.1 × 10⁹/L is within the reference range of 4.5–11.0")
True
>>> "not a diagnosis" in text
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cbc_ranges.analytes import Analyte, ValueKind, analytes, get_analyte
from cbc_ranges.data import find_files, load, read_toml
from cbc_ranges.errors import RangeTableError
from cbc_ranges.models import Comparator, Flag, Person, Source, format_number
from cbc_ranges.people import ADULT_AGE
from cbc_ranges.ranges import RangeTable, Selection

__all__ = [
    "BLOCK_NAMES",
    "DIAGNOSTIC_WORDING",
    "PLACEHOLDERS",
    "Block",
    "Explanation",
    "age_group",
    "blocks",
    "explain",
]

#: the blocks ``explanations.toml`` must define
BLOCK_NAMES = (
    "compare_low",
    "compare_normal",
    "compare_high",
    "compare_censored",
    "compare_none",
    "age_unknown",
    "sex_unknown",
    "leukopenia_below",
    "leukopenia_not_below",
    "leukopenia_undetermined",
    "meaning_low",
    "causes_low",
    "transient_low",
    "infection_signs",
    "meaning_high",
    "advice_high",
    "meaning_normal",
    "children",
    "children_no_threshold",
    "ethnicity",
    "about_ranges",
    "closing",
)

#: the placeholders a block may use
PLACEHOLDERS = frozenset(
    {
        "value",
        "low",
        "high",
        "population",
        "source",
        "threshold",
        "threshold_cells",
        "threshold_source",
        "person",
        "noun",
        "unit",
        "label",
    }
)

#: wording that would read as a diagnosis; no text may contain it (case ignored)
DIAGNOSTIC_WORDING = re.compile(
    r"\byou have\b|\byou've got\b|\byou are suffering\b|\bsuffering from\b|\bdiagnosed with\b"
    r"|\byour diagnosis\b|\bthis confirms\b|\byou are (?:ill|sick)\b",
    re.IGNORECASE,
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Block:
    """One block of text and the ids of the sources it rests on."""

    name: str
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    """The text for one kind of result, with ``{value}`` still to fill in, and its sources."""

    template: str
    sources: tuple[Source, ...]
    # the template split at {value}, once: joining is much cheaper than a search per call
    parts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.template.split("{value}")))

    def render(self, value: str) -> str:
        """The text for a count written as ``value`` (in 10^9/L, comparator included).

        >>> Explanation(template="A count of {value} × 10⁹/L.", sources=()).render("<1.0")
        'A count of <1.0 × 10⁹/L.'
        """
        return value.join(self.parts)


def blocks() -> dict[str, Block]:
    """The text blocks, loaded once and checked (all present, known sources and
    placeholders, no diagnostic wording, "not a diagnosis" in the closing block,
    every block an analyte names defined).

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
    bad = [key for key in _PLACEHOLDER.findall(text) if key not in PLACEHOLDERS]
    if bad:
        raise RangeTableError(f"unknown placeholder {{{bad[0]}}}", path=path, field=name)
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise RangeTableError("a brace that is not part of a {placeholder}", path=path, field=name)
    wording = DIAGNOSTIC_WORDING.search(text)
    if wording:
        raise RangeTableError(f"diagnostic wording {wording.group(0)!r}", path=path, field=name)
    return Block(name=name, text=text, sources=tuple(cited))


def age_group(person: Person) -> str:
    """``"adult"`` (18 and over), ``"child"`` or ``"unknown"``.

    >>> age_group(Person(age_years=17.5)), age_group(Person())
    ('child', 'unknown')
    """
    if person.age_years is None:
        return "unknown"
    return "child" if person.age_years < ADULT_AGE else "adult"


def _describe_person(person: Person) -> str:
    group = age_group(person)
    if group == "unknown":
        if person.sex == "unknown":
            return "a person of unknown age and sex"
        return f"a {person.sex} person of unknown age"
    if person.sex == "unknown":
        return f"{'an' if group == 'adult' else 'a'} {group} of unknown sex"
    return f"a {person.sex} {group}"


def _cite(source: Source) -> str:
    return f"“{source.title}” ({source.publisher})"


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
) -> Explanation:
    """The text (``{value}`` left to fill) and cited sources for one kind of result.

    ``selection`` is what :meth:`RangeTable.select` picked for ``person``. The
    result depends only on its arguments, so callers may cache it.
    """
    library = blocks()
    about = get_analyte(analyte)
    reference, threshold, variation = selection.reference, selection.threshold, selection.variation
    group = age_group(person)
    values: dict[str, str] = {
        "person": _describe_person(person),
        "noun": about.noun_for(value_kind),
        "label": about.label,
        "unit": " %" if value_kind == "percent" else " × 10⁹/L",
    }
    if reference is not None:
        values.update(
            low=format_number(reference.low or 0.0),
            high=format_number(reference.high or 0.0),
            population=reference.population.description,
            source=_cite(reference.source),
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
    goes_low = flag == "low" or leukopenia is True
    censored_below = flag == "indeterminate" and comparator in ("<", "<=")

    paragraphs: list[list[str]] = []
    first = ["compare_none" if reference is None else _compare_block(flag)]
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
    paragraphs.append(first)
    if goes_low:
        paragraphs += _paragraphs(about.text_low)
    elif censored_below:
        paragraphs.append(["infection_signs"])
    elif flag == "high":
        paragraphs += _paragraphs(about.text_high)
    elif flag == "normal":
        paragraphs += _paragraphs(about.text_normal)
    if group == "child":
        child = ["children"]
        if threshold_low is None:
            child.append("children_no_threshold")
        paragraphs.append(child)
    if variation is not None:
        paragraphs.append(["ethnicity"])
    paragraphs.append(["about_ranges", "closing"] if reference is not None else ["closing"])

    used = [library[name] for paragraph in paragraphs for name in paragraph]
    texts = (" ".join(library[name].text for name in paragraph) for paragraph in paragraphs)
    # the blocks hold only {placeholder} braces (checked on loading): str.format_map fills
    # them, and leaves {value} and any placeholder without a value as it is
    template = "\n\n".join(texts).format_map(_Kept(values))
    # every row the result reports on: the range, the limits and grade bands, the note
    rows = (
        row
        for row in (reference, threshold, variation, *selection.limits, *selection.grades)
        if row is not None
    )
    cited = [row.source.id for row in rows]
    cited += [key for block in used for key in block.sources]
    return Explanation(template=template, sources=_ordered(cited, table.sources))


class _Kept(dict[str, str]):
    """Placeholder values; a placeholder without one stays in the text as it was."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _paragraphs(names: tuple[str, ...]) -> list[list[str]]:
    """An analyte's blocks for a result, two to a paragraph."""
    return [list(names[start : start + 2]) for start in range(0, len(names), 2)]


def _compare_block(flag: Flag) -> str:
    return "compare_censored" if flag == "indeterminate" else f"compare_{flag}"


def _ordered(cited: Iterable[str], sources: Mapping[str, Source]) -> tuple[Source, ...]:
    wanted = set(cited)
    return tuple(source for key, source in sources.items() if key in wanted)
