"""How search results are worded for people: card titles, confidence, source names, safe text.

Shared by the Ask page and the CLI so both say the same thing. Nothing here imports Streamlit.
Answer text comes from data (MedQuAD or an uploaded CSV) and may contain markup: pages render it with
:func:`escape_markdown` (or as plain text), never as HTML.
"""

from __future__ import annotations

import re
import textwrap

from medqa.retrieval.engine import Hit, SearchResult
from medqa.safety import DISCLAIMER

ABSTAIN_MESSAGE = (
    "I don't have a reliable answer to that in the NIH MedQuAD collection. Try naming the condition "
    'and what you want to know (for example "What are the symptoms of shingles?"), or ask a doctor.'
)
#: Answers longer than this are collapsed behind "Read the full answer".
PREVIEW_CHARS = 600

SOURCE_NAMES = {
    "CancerGov": "National Cancer Institute (cancer.gov)",
    "GARD": "Genetic and Rare Diseases Information Center (GARD)",
    "GHR": "Genetics Home Reference (NLM)",
    "MPlusHealthTopics": "MedlinePlus Health Topics (NLM)",
    "NIDDK": "National Institute of Diabetes and Digestive and Kidney Diseases (NIDDK)",
    "NINDS": "National Institute of Neurological Disorders and Stroke (NINDS)",
    "NIHSeniorHealth": "NIHSeniorHealth (NIA / NLM)",
    "NHLBI": "National Heart, Lung, and Blood Institute (NHLBI)",
    "CDC": "Centers for Disease Control and Prevention (CDC)",
    "ADAM": "MedlinePlus A.D.A.M. Medical Encyclopedia",
    "MPlusDrugs": "MedlinePlus Drugs",
    "MPlusHerbsSupplements": "MedlinePlus Herbs and Supplements",
}

_SAFE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~/?#&=%+:@,;!*$'-]*)?")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=^\"'])")


def escape_markdown(text: str) -> str:
    """Escape every Markdown-significant character so data shows literally in ``st.markdown``.

    Backslash-escaping ASCII punctuation is always valid CommonMark, and it also disarms Streamlit's
    extensions (``:red[...]`` colours, ``:material/...:`` icons, ``$...$`` LaTeX).
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def answer_markdown(text: str) -> str:
    """Answer text for ``st.markdown`` that shows literally: escaped, one paragraph per line.

    Leading spaces are dropped so indented lines do not become code blocks.
    """
    lines = [line.strip() for line in str(text).splitlines()]
    return "\n\n".join(escape_markdown(line) for line in lines if line)


def safe_url(url: str) -> str | None:
    """The URL when it is a plain ``http(s)`` link that is safe to put in a Markdown link, else ``None``.

    Data may carry ``javascript:`` links or characters that would break out of ``[text](url)``.
    """
    url = str(url or "").strip()
    if not _SAFE_URL.fullmatch(url):
        return None
    return url


def source_name(source: str) -> str:
    """A readable name of an NIH source code."""
    return SOURCE_NAMES.get(source, source or "Unknown source")


def confidence_label(similarity: float, threshold: float) -> str:
    """Words for how closely a hit matches, relative to the calibrated abstention threshold."""
    if similarity >= threshold + 0.15:
        return "strong match"
    if similarity >= threshold:
        return "good match"
    return "weak match"


def hit_title(hit: Hit) -> str:
    """Card title: the focus area and the question type."""
    return f"{hit.focus} · {hit.qtype}" if hit.qtype else hit.focus


def hit_caption(hit: Hit, threshold: float) -> str:
    """Card caption: source, similarity and what it means."""
    return (
        f"{source_name(hit.source)} · similarity {hit.similarity:.2f} "
        f"({confidence_label(hit.similarity, threshold)})"
    )


def split_answer(answer: str, limit: int = PREVIEW_CHARS) -> tuple[str, bool]:
    """A preview of an answer (cut at a sentence or word boundary) and whether it was cut."""
    answer = answer.strip()
    if len(answer) <= limit:
        return answer, False
    cut = answer[:limit]
    boundary = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    if boundary < limit // 2:
        boundary = cut.rfind(" ")
    return cut[: boundary + 1].rstrip() + " …", True


def result_text(result: SearchResult, *, width: int = 100, answer_chars: int = 700) -> str:
    """A plain-text rendering of a result for the terminal: notices first, then the hits."""
    lines: list[str] = []
    if result.emergency is not None:
        lines += ["!" * min(width, 60), f"EMERGENCY: {result.emergency.message}", "!" * min(width, 60), ""]
    lines += [f"note: {note}" for note in result.notes]
    if result.follow_up is not None:
        lines.append(f"{result.follow_up.note}.")
    if result.abstain:
        lines += [
            ABSTAIN_MESSAGE,
            f"(best similarity {result.confidence:.2f} < threshold {result.threshold:.2f})",
        ]
    else:
        for hit in result.hits:
            preview, _ = split_answer(hit.answer, answer_chars)
            lines += [
                "",
                f"{hit.rank}. {hit_title(hit)}",
                f"   Q: {hit.question}",
                f"   {hit_caption(hit, result.threshold)}",
                f"   {hit.url}",
                textwrap.indent(textwrap.fill(preview, width - 3), "   "),
            ]
    lines += ["", DISCLAIMER]
    return "\n".join(lines)
