"""Build the curated, balanced subset: N focus areas x K pairs with a per-area train/test split.

It reproduces the shape of the original project's dataset (40 focus areas x 13 pairs = 520) while
keeping the focus, question type, source and URL that its CSV lost.

Selection rule (deterministic for a given seed):

1. Candidate pairs have an answer of ``min_answer_chars`` to ``max_answer_chars`` characters; an answer
   text seen before is dropped, so no two pairs share an answer.
2. Pairs are grouped by focus area (case-insensitive focus name, across sources). An area is eligible
   when it has at least ``per_category`` candidate pairs.
3. Areas are ranked by how consumer-oriented their best source is (NIHSeniorHealth, MedlinePlus Health
   Topics, NIDDK, NHLBI, CancerGov, NINDS, CDC, then GHR and GARD, which are written for specialists),
   then by how many question types they cover; the seed breaks ties. The first ``categories`` are kept.
4. Within an area, pairs are taken round-robin over question types (seeded order), so each area covers
   as many kinds of question as it has.
5. ``test_per_category`` pairs of each area, again spread over question types, form the held-out test
   split; the rest are the train split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medqa.data import schema as col
from medqa.data.templates import normalise_focus
from medqa.errors import DataNotFoundError

#: Sources in order of how plainly they are written for patients and caregivers.
CONSUMER_SOURCE_ORDER = (
    "NIHSeniorHealth",
    "MPlusHealthTopics",
    "NIDDK",
    "NHLBI",
    "CancerGov",
    "NINDS",
    "CDC",
    *col.SPECIALIST_SOURCES,
)

DEFAULT_CATEGORIES = 40
DEFAULT_PER_CATEGORY = 13
DEFAULT_TEST_PER_CATEGORY = 3
DEFAULT_SEED = 42


def _spread_over_qtypes(positions: np.ndarray, qtypes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Order row positions so that consecutive picks cycle through question types (seeded)."""
    shuffled = positions[rng.permutation(len(positions))]
    seen: dict[str, int] = {}
    turns = []
    for position in shuffled:
        turns.append(seen.get(qtypes[position], 0))
        seen[qtypes[position]] = turns[-1] + 1
    return shuffled[np.argsort(turns, kind="stable")]


def build_curated(
    pairs: pd.DataFrame,
    *,
    categories: int = DEFAULT_CATEGORIES,
    per_category: int = DEFAULT_PER_CATEGORY,
    test_per_category: int = DEFAULT_TEST_PER_CATEGORY,
    seed: int = DEFAULT_SEED,
    min_answer_chars: int = 80,
    max_answer_chars: int = 6000,
) -> pd.DataFrame:
    """Select a balanced subset of answered MedQuAD pairs with a stratified train/test split.

    Args:
        pairs: a pairs table (as from :func:`medqa.data.medquad.load_medquad`).
        categories: number of focus areas N.
        per_category: pairs per focus area K.
        test_per_category: held-out pairs per focus area (the rest are for training).
        seed: makes the selection and split reproducible.
        min_answer_chars: shortest answer kept.
        max_answer_chars: longest answer kept.

    Returns:
        ``categories * per_category`` rows with every pairs-table column plus ``split``.

    Raises:
        DataNotFoundError: fewer than ``categories`` focus areas have ``per_category`` usable pairs.
        ValueError: the counts make no sense (e.g. the test split would take a whole area).
    """
    if categories < 1 or per_category < 2 or not 1 <= test_per_category < per_category:
        raise ValueError(
            "Need at least 1 focus area, 2 pairs per area and a test split smaller than an area."
        )
    rng = np.random.default_rng(seed)
    lengths = pairs[col.ANSWER].str.len()
    candidates = pairs[
        pairs[col.HAS_ANSWER] & lengths.between(min_answer_chars, max_answer_chars)
    ].drop_duplicates(col.ANSWER)
    candidates = candidates.assign(_key=candidates[col.FOCUS].map(normalise_focus))
    source_rank = {source: rank for rank, source in enumerate(CONSUMER_SOURCE_ORDER)}
    candidates = candidates.assign(
        _source_rank=candidates[col.SOURCE].map(source_rank).fillna(len(source_rank)).astype(int)
    )

    areas = candidates.groupby("_key").agg(
        n=(col.ID, "size"), qtypes=(col.QTYPE, "nunique"), source_rank=("_source_rank", "min")
    )
    areas = areas[areas["n"] >= per_category]
    if len(areas) < categories:
        raise DataNotFoundError(
            f"Only {len(areas)} focus areas have {per_category} usable answered pairs; "
            f"asked for {categories}. Lower the number of areas or pairs per area."
        )
    areas = areas.assign(tiebreak=rng.permutation(len(areas)))
    chosen = areas.sort_values(["source_rank", "qtypes", "tiebreak"], ascending=[True, False, True])
    chosen_keys = chosen.index[:categories]

    # Work on positions, not frame copies: the full table has 16k long-text rows.
    candidates = candidates.reset_index(drop=True)
    qtypes = candidates[col.QTYPE].to_numpy()
    ranks = candidates["_source_rank"].to_numpy()
    rows_of_area = candidates.groupby("_key").indices
    picked_rows, test_rows, area_names = [], [], []
    for key in chosen_keys:
        positions = np.sort(rows_of_area[key])
        # Prefer the area's most consumer-oriented source, so one area reads as one page.
        best = positions[ranks[positions] == ranks[positions].min()]
        pool = best if len(best) >= per_category else positions[np.argsort(ranks[positions], kind="stable")]
        picked = _spread_over_qtypes(pool, qtypes, rng)[:per_category]
        picked_rows.extend(picked)
        test_rows.extend(_spread_over_qtypes(picked, qtypes, rng)[:test_per_category])
        area_names.extend([candidates.at[int(picked[0]), col.FOCUS]] * len(picked))
    curated = candidates.take(picked_rows).reset_index(drop=True)
    curated[col.FOCUS] = area_names
    curated[col.SPLIT] = np.where(np.isin(picked_rows, test_rows), col.TEST, col.TRAIN)
    return curated.drop(columns=["_key", "_source_rank"])[[*col.PAIR_COLUMNS, col.SPLIT]]
