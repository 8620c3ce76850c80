"""Descriptive statistics of a pairs table: balance, question types, sources, lengths and quality."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from medqa.data import schema as col
from medqa.data.templates import match_template, normalise_focus

SHORT_ANSWER_CHARS = 40
LONG_ANSWER_CHARS = 10_000


@dataclass(frozen=True)
class Summary:
    """Headline counts of a pairs table."""

    pairs: int
    answered: int
    unanswered: int
    focus_areas: int
    question_types: int
    sources: int
    pairs_per_focus_min: int
    pairs_per_focus_median: float
    pairs_per_focus_max: int


def summarise(table: pd.DataFrame) -> Summary:
    """Headline counts; per-focus figures are over answered pairs."""
    answered = table[table[col.HAS_ANSWER]]
    per_focus = answered.groupby(col.FOCUS).size()
    return Summary(
        pairs=len(table),
        answered=len(answered),
        unanswered=len(table) - len(answered),
        focus_areas=int(answered[col.FOCUS].nunique()),
        question_types=int(answered[col.QTYPE].replace("", pd.NA).nunique()),
        sources=int(table[col.SOURCE].nunique()),
        pairs_per_focus_min=int(per_focus.min()) if len(per_focus) else 0,
        pairs_per_focus_median=float(per_focus.median()) if len(per_focus) else 0.0,
        pairs_per_focus_max=int(per_focus.max()) if len(per_focus) else 0,
    )


def focus_counts(table: pd.DataFrame, top: int | None = None) -> pd.DataFrame:
    """Answered pairs per focus area, largest first (``focus``, ``pairs``)."""
    answered = table[table[col.HAS_ANSWER]]
    counts = answered.groupby(col.FOCUS).size().sort_values(ascending=False, kind="stable")
    if top is not None:
        counts = counts.head(top)
    return counts.rename("pairs").reset_index()


def split_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Pairs per focus area and split (``focus``, ``split``, ``pairs``); empty without a split."""
    if col.SPLIT not in table.columns:
        return pd.DataFrame(columns=[col.FOCUS, col.SPLIT, "pairs"])
    table = table[table[col.HAS_ANSWER]]
    return table.groupby([col.FOCUS, col.SPLIT]).size().rename("pairs").reset_index()


def qtype_by_focus(table: pd.DataFrame, top_focus: int = 40) -> pd.DataFrame:
    """Matrix of answered pair counts: the ``top_focus`` largest focus areas x question types."""
    answered = table[table[col.HAS_ANSWER]]
    focus = focus_counts(answered, top_focus)[col.FOCUS]
    subset = answered[answered[col.FOCUS].isin(focus)]
    matrix = pd.crosstab(subset[col.FOCUS], subset[col.QTYPE].replace("", "(none)"))
    return matrix.reindex(focus)


def source_breakdown(table: pd.DataFrame) -> pd.DataFrame:
    """Pairs per source with and without an answer (``source``, ``answered``, ``unanswered``)."""
    breakdown = (
        table.assign(status=table[col.HAS_ANSWER].map({True: "answered", False: "unanswered"}))
        .groupby([col.SOURCE, "status"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=["answered", "unanswered"], fill_value=0)
    )
    return breakdown.sort_values("answered", ascending=False).reset_index()


def answer_lengths(table: pd.DataFrame) -> pd.DataFrame:
    """Answer length in words and characters for answered pairs, with focus and source."""
    answered = table[table[col.HAS_ANSWER]]
    return pd.DataFrame(
        {
            col.FOCUS: answered[col.FOCUS],
            col.SOURCE: answered[col.SOURCE],
            "characters": answered[col.ANSWER].str.len(),
            "words": answered[col.ANSWER].str.split().str.len(),
        }
    )


def quality_report(table: pd.DataFrame) -> pd.DataFrame:
    """Counts of the things worth knowing before training on a table (``check``, ``rows``, ``why``)."""
    answered = table[table[col.HAS_ANSWER]]
    lengths = answered[col.ANSWER].str.len()
    templated = answered[col.QUESTION].map(lambda question: match_template(question) is not None)
    checks = [
        ("pairs without an answer", len(table) - len(answered), "kept out of retrieval and training"),
        (
            "repeated question text",
            int(answered.duplicated(col.QUESTION).sum()),
            "the same question leads to different answers (different parts of one page)",
        ),
        (
            "repeated answer text",
            int(answered.duplicated(col.ANSWER).sum()),
            "the same answer under several questions; both count as right in evaluation",
        ),
        (
            "repeated question-answer pairs",
            int(answered.duplicated([col.QUESTION, col.ANSWER]).sum()),
            "exact duplicates add nothing to training",
        ),
        (
            f"answers under {SHORT_ANSWER_CHARS} characters",
            int((lengths < SHORT_ANSWER_CHARS).sum()),
            "often a fragment rather than an answer",
        ),
        (
            f"answers over {LONG_ANSWER_CHARS:,} characters",
            int((lengths > LONG_ANSWER_CHARS).sum()),
            "cut to the model's maximum length when embedded",
        ),
        (
            "questions written from a MedQuAD template",
            int(templated.sum()),
            "real users phrase questions differently; a model can overfit templates",
        ),
        (
            "answers containing markup (<, >)",
            int(answered[col.ANSWER].str.contains(r"<[a-zA-Z/]", regex=True).sum()),
            "shown as plain text, never as HTML",
        ),
    ]
    return pd.DataFrame(checks, columns=["check", "rows", "why it matters"])


def curated_vs_full(curated: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    """Pairs per curated focus area in the curated set and in the full collection.

    Focus areas are matched by name ignoring case, since one area can span several sources.
    """
    full_keys = full.loc[full[col.HAS_ANSWER], col.FOCUS].map(normalise_focus).value_counts()
    curated_counts = curated.groupby(col.FOCUS).size()
    frame = pd.DataFrame(
        {
            col.FOCUS: curated_counts.index,
            "curated": curated_counts.to_numpy(),
            "full MedQuAD": [int(full_keys.get(normalise_focus(name), 0)) for name in curated_counts.index],
        }
    )
    return frame.sort_values("full MedQuAD", ascending=False).melt(
        id_vars=col.FOCUS, var_name="dataset", value_name="pairs"
    )


def filter_pairs(
    table: pd.DataFrame, *, text: str = "", focus: list[str] | None = None, qtypes: list[str] | None = None
) -> pd.DataFrame:
    """Rows whose question, answer or focus contains ``text`` (any case), in the given areas and types."""
    mask = pd.Series(True, index=table.index)
    if text.strip():
        needle = text.strip()
        mask &= (
            table[col.QUESTION].str.contains(needle, case=False, regex=False)
            | table[col.ANSWER].str.contains(needle, case=False, regex=False)
            | table[col.FOCUS].str.contains(needle, case=False, regex=False)
        )
    if focus:
        mask &= table[col.FOCUS].isin(focus)
    if qtypes:
        mask &= table[col.QTYPE].isin(qtypes)
    return table[mask]
