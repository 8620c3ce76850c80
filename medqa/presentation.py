"""How search results are worded for people: card titles, confidence, source names, safe text.

Shared by the Ask page and the CLI so both say the same thing. Nothing here imports Streamlit.
Answer text comes from data (MedQuAD or an uploaded CSV) and may contain markup: pages render it with
:func:`escape_markdown` (or as plain text), never as HTML.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from medqa.data.upload import UPLOAD_SOURCE
from medqa.retrieval.engine import EngineSettings, Hit, SearchResult
from medqa.safety import DISCLAIMER, EmergencyNotice

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
#: Where a GFM autolink literal would start (``scheme://``, ``www.``, ``user@host``): a word joiner
#: goes at the match (see :func:`escape_markdown`).
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=\bwww)(?=\.))|(?=@)")
_WORD_JOINER = "\u2060"


def escape_markdown(text: str) -> str:
    """Escape every Markdown-significant character so data shows literally in ``st.markdown``.

    Backslash-escaping ASCII punctuation is always valid CommonMark, and it also disarms Streamlit's
    extensions (``:red[...]`` colours, ``:material/...:`` icons, ``$...$`` LaTeX). Escapes do not stop
    GitHub-flavoured autolinks, which are found in the text after escapes are read (a focus name
    ``https://evil.example`` became a live link in a real browser), so a word joiner (U+2060, invisible)
    is put inside ``://``, before ``.`` after ``www`` and before ``@``: data shows no clickable link
    (each card links its source through :func:`safe_url`).
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(_WORD_JOINER, str(text)))


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


# ---- readable answers ------------------------------------------------------------------------------
# MedQuAD's answers were scraped from HTML pages: lists became " - a - b - c" and were often followed
# by the same items again without dashes, and headings run into the next sentence ("Preventing Heart
# Failure There are ..."). These rules rebuild the structure; see tests/test_presentation.py for the
# shapes they handle. They only split text, never drop words, except a list's repeated copy.

_LIST_MARK = re.compile(r"(?:^|\s)-\s+(?=\S)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(]?[A-Z0-9])")
_PERCENT_ROWS = re.compile(r"(?:(?<=\s)|^)((?:[A-Z0-9][^%.?!:;]{1,80}? \d{1,3}(?:\.\d+)?%\s*){3,})")
_PERCENT_ROW = re.compile(r"[A-Z0-9][^%.?!:;]{1,80}? \d{1,3}(?:\.\d+)?%")
#: GARD's symptom tables start "Signs and Symptoms Approximate number of patients (when available)".
_TABLE_HEADER_END = "(when available)"
_HEADING_WORD = re.compile(r"[A-Z0-9][\w'’()/-]*")
#: Lower-case words allowed inside a Title Case heading ("Keep Your Blood Pressure in Check").
_MINOR_WORDS = frozenset(
    "a an and as at by for from in into of on or the to with your you is are can do does how what why".split()  # noqa: SIM905
)
#: Words that start a sentence after a heading; a Title Case run ends before one of them.
_SENTENCE_STARTERS = frozenset(
    """a about after although an anyone as ask at because before call children doctors during each every
    for having how if in it its learn many more most no not once other over people researchers scientists
    see several some symptoms talk that the there these they this those to treatment what when while who
    why with you your""".split()  # noqa: SIM905
)
_MAX_HEADING_WORDS = 10
#: Dashes allowed inside a heading ("Memory Problems — A Common Early Sign").
_HEADING_DASHES = frozenset({"—", "–", "-", "&"})
#: Capitalised words that start a sentence even without a full stop before them (a list's last item ends).
_LIST_TAIL_STARTERS = frozenset(
    {"These", "This", "The", "There", "It", "You", "Your", "If", "Many", "Most", "Some"}
)
#: A question sentence this short, followed by its answer, is a heading ("What causes gout?").
_MAX_QUESTION_HEADING_WORDS = 20


@dataclass(frozen=True)
class Block:
    """One piece of a formatted answer.

    Attributes:
        kind: ``"heading"``, ``"paragraph"`` or ``"list"``.
        parts: the heading text; the paragraph's sentences; or the list's items.
    """

    kind: str
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.parts)


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _list_end(items: list[str], piece: str) -> tuple[str, str] | None:
    """``(last item, text after the list)`` when a list ends inside ``piece``, else ``None``.

    MedQuAD often writes ``- a - b - c a b c Next text``: the last piece is ``c a b c Next text``, and
    the word-for-word copy of the items is dropped. Otherwise a list ends at its item's sentence end.
    """
    piece = piece.strip()
    if items:
        first = " " + items[0]
        start = piece.find(first)
        while start > 0:
            last = piece[:start].strip()
            copy = " ".join([*items, last])
            if piece[start + 1 :].startswith(copy):
                return last, piece[start + 1 + len(copy) :]
            start = piece.find(first, start + 1)
    parts = _SENTENCE_END.split(piece, maxsplit=1)
    # "- c Next Heading Starts here" or "- c These resources ...": the item ends where a heading (of two
    # words or more) or an unpunctuated sentence starts.
    words = parts[0].split()
    for index in range(1, len(words)):
        if not (words[index - 1][-1:].islower() or words[index - 1][-1:].isdigit()):
            continue
        starts_sentence = (
            words[index] in _LIST_TAIL_STARTERS and index + 1 < len(words) and words[index + 1][:1].islower()
        )
        heading = _heading_split(" ".join(words[index:]))
        if starts_sentence or (heading is not None and len(heading[0].split()) >= 2):
            parts = [" ".join(words[:index]), " ".join([*words[index:], *parts[1:]])]
            break
    if len(parts) < 2:
        return None
    last, rest = parts[0].strip(), parts[1]
    copy = " ".join([*items, last])
    for candidate in (copy, copy.rstrip(".")):
        if candidate and rest.startswith(candidate):
            return last, rest[len(candidate) :].lstrip(".")
    return last, rest


def _heading_split(sentence: str) -> tuple[str, str] | None:
    """``(heading, rest)`` when a sentence starts with a heading that runs into it, else ``None``."""
    words = sentence.split()
    # A phrase written twice: "Biologic therapy Biologic therapy is a treatment ...".
    for size in range(min(_MAX_HEADING_WORDS, (len(words) - 1) // 2), 0, -1):
        head, again = words[:size], words[size : 2 * size]
        if (
            words[0][:1].isupper()
            and [word.casefold() for word in head] == [word.casefold() for word in again]
            and len(words) > 2 * size
        ):
            return " ".join(head), " ".join(words[size:])
    # A Title Case run ended by a sentence starter: "Preventing Heart Failure There are ...".
    run = 0
    while run < len(words) and run <= _MAX_HEADING_WORDS:
        word = words[run]
        if _HEADING_WORD.fullmatch(word) or (run and (word in _MINOR_WORDS or word in _HEADING_DASHES)):
            run += 1
        else:
            break
    while run and words[run - 1] in _MINOR_WORDS:
        run -= 1
    if run < 2 or run >= len(words) or not words[run][:1].islower():
        return None
    if words[0].casefold() in {"the", "a", "an"}:
        return None
    # The run's last word starts the sentence when it is a sentence starter ("Preventing Heart Failure
    # There are ..."), an -ing word ("Medical History Taking a ...") or the heading's first word
    # restated ("Memory Problems — A Common Early Sign Memory problems are ..."); an article right
    # before it goes with the sentence ("Kasai Procedure The Kasai procedure ..."); never after a dash.
    index = run - 1
    starter, before = words[index], words[index - 1]
    folded = starter.casefold()
    if before in _HEADING_DASHES or (folded in {"you", "your"} and index < 2):
        return None
    if not (
        folded == words[0].casefold()
        or folded in _SENTENCE_STARTERS
        or (folded.endswith("ing") and len(folded) > 5)
    ):
        return None
    if index > 1 and before.casefold() in {"the", "a", "an"}:
        index -= 1
    return " ".join(words[:index]), " ".join(words[index:])


def _prose_blocks(text: str) -> list[Block]:
    """Headings and paragraphs of list-free text."""
    blocks: list[Block] = []
    sentences: list[str] = []

    def flush() -> None:
        if sentences:
            blocks.append(Block("paragraph", tuple(sentences)))
            sentences.clear()

    parts = _sentences(text)
    for index, sentence in enumerate(parts):
        is_question = sentence.endswith("?") and len(sentence.split()) <= _MAX_QUESTION_HEADING_WORDS
        followed = index + 1 < len(parts) and not parts[index + 1].endswith("?")
        if is_question and followed:
            flush()
            blocks.append(Block("heading", (sentence,)))
            continue
        split = _heading_split(sentence)
        if split is not None:
            flush()
            blocks.append(Block("heading", (split[0],)))
            sentence = split[1]
        sentences.append(sentence)
    flush()
    return blocks


def _percent_lists(text: str) -> list[tuple[str, list[str] | None]]:
    """Pieces of text, with runs of ``"Name 90%"`` table rows (GARD symptom tables) as lists."""
    pieces: list[tuple[str, list[str] | None]] = []
    position = 0
    for match in _PERCENT_ROWS.finditer(text):
        rows = [row.strip() for row in _PERCENT_ROW.findall(match.group(1))]
        header, _, first = rows[0].rpartition(_TABLE_HEADER_END)
        rows[0] = first.strip()
        pieces.append((text[position : match.start()] + (header + _TABLE_HEADER_END if header else ""), None))
        pieces.append(("", rows))
        position = match.end()
    pieces.append((text[position:], None))
    return pieces


def answer_blocks(text: str) -> list[Block]:
    """An answer's headings, paragraphs and lists, rebuilt from MedQuAD's flattened text.

    Rules: `` - a - b`` (two items or more, or one after a colon) is a list, its last item ending at
    its first sentence end, and a word-for-word repeat of the items right after it is dropped; three or
    more ``"Name 90%"`` rows are a list; a short question sentence followed by its answer is a heading;
    so are a phrase written twice at a sentence start (``"Biologic therapy Biologic therapy is ..."``)
    and a Title Case run ending right before a sentence starter (``"Preventing Heart Failure There
    are ..."``). Everything else is paragraphs; no other word is dropped.
    """
    blocks: list[Block] = []
    for paragraph in re.split(r"\n+", str(text)):
        rest = paragraph.strip()
        while rest:
            marks = list(_LIST_MARK.finditer(rest))

            def piece(index: int, marks: list[re.Match[str]] = marks, rest: str = rest) -> str:
                end = marks[index + 1].start() if index + 1 < len(marks) else len(rest)
                return rest[marks[index].end() : end]

            start = next(
                (
                    index
                    for index, mark in enumerate(marks)
                    if (index + 1 < len(marks) and _list_end([], piece(index)) is None)
                    or rest[: mark.start()].rstrip().endswith(":")
                ),
                None,
            )
            if start is None:
                blocks += _text_blocks(rest)
                break
            blocks += _text_blocks(rest[: marks[start].start()])
            items: list[str] = []
            index = start
            while True:
                found = _list_end(items, piece(index))
                last_mark = index + 1 == len(marks)
                if found is None and not last_mark:
                    items.append(piece(index).strip())
                    index += 1
                    continue
                last, tail = found if found is not None else (piece(index).strip(), "")
                if last:
                    items.append(last)
                following = rest[marks[index + 1].start() :] if not last_mark else ""
                rest = (tail + following).strip()
                break
            blocks.append(Block("list", tuple(item for item in items if item)))
    return [block for block in blocks if block.parts]


def _text_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    for piece, rows in _percent_lists(text):
        if rows:
            blocks.append(Block("list", tuple(rows)))
        elif piece.strip():
            blocks += _prose_blocks(piece.strip())
    return blocks


# ---- the sentences that match the question ------------------------------------------------------
#: At most this many sentences (or list items) of an answer are highlighted.
MAX_HIGHLIGHTS = 2


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {"what", "how", "who", "why", "which", "can", "do", "does", "i", "my"}


def _terms(text: str) -> set[str]:
    """Stemmed content words (the BM25 index's tokenisation: English stopwords out, Snowball stems)."""
    words = [word for word in re.findall(r"[a-z0-9]+", text.casefold()) if word not in _stopwords()]
    return set(_stemmer().stemWords(words))


def matched_parts(blocks: Sequence[Block], question: str, passage: str | None = None) -> set[tuple[int, int]]:
    """``(block, part)`` positions of the sentences or list items that answer the question.

    Parts are scored by the question words they share, each word weighted by how rare it is in the
    answer (the condition's name, in every sentence, counts little); the best ones are highlighted (at
    most :data:`MAX_HIGHLIGHTS`, within 60% of the best score; never headings; none when no part shares
    a question word). With the passage the retriever matched (:attr:`medqa.retrieval.engine.Hit.passage`)
    only the parts inside it compete, and its first part is highlighted when none shares a question
    word, unless the passage is (nearly) the whole answer, where it tells nothing.
    """
    parts = [
        (block_index, part_index, _terms(part))
        for block_index, block in enumerate(blocks)
        if block.kind != "heading"
        for part_index, part in enumerate(block.parts)
    ]
    if not parts:
        return set()
    candidates = parts
    if passage:
        wanted = _terms(passage)
        inside = [part for part in parts if part[2] and len(part[2] & wanted) / len(part[2]) >= 0.8]
        if inside and len(inside) < 0.8 * len(parts):
            candidates = inside
    asked = _terms(question)
    document_frequency = {term: sum(term in terms for *_, terms in parts) for term in asked}
    weight = {term: math.log(1 + len(parts) / count) for term, count in document_frequency.items() if count}
    scored = sorted(
        ((sum(weight.get(term, 0.0) for term in terms & asked), -b, -p) for b, p, terms in candidates),
        reverse=True,
    )
    best = scored[0][0]
    if best <= 0:
        return {candidates[0][:2]} if candidates is not parts else set()
    return {(-b, -p) for score, b, p in scored[:MAX_HIGHLIGHTS] if score >= 0.6 * best}


def highlight_markdown(text: str) -> str:
    """Escaped text marked as matching the question (a coloured background)."""
    return f":yellow-background[**{escape_markdown(text)}**]"


def blocks_markdown(blocks: Sequence[Block], highlighted: set[tuple[int, int]] = frozenset()) -> str:  # type: ignore[assignment]
    """Markdown for formatted blocks; every piece of data is escaped (it shows literally, links and
    images included), only the structure (headings, bullets, highlights) is Markdown."""

    def part(block_index: int, part_index: int, text: str) -> str:
        if (block_index, part_index) in highlighted:
            return highlight_markdown(text)
        return escape_markdown(text)

    chunks: list[str] = []
    for block_index, block in enumerate(blocks):
        if block.kind == "heading":
            chunks.append(f"##### {escape_markdown(block.text)}")
        elif block.kind == "list":
            chunks.append("\n".join(f"- {part(block_index, i, item)}" for i, item in enumerate(block.parts)))
        elif block.kind == "gap":
            chunks.append("…")
        else:
            chunks.append(" ".join(part(block_index, i, text) for i, text in enumerate(block.parts)))
    return "\n\n".join(chunks)


def preview_blocks(
    blocks: Sequence[Block], highlighted: set[tuple[int, int]], limit: int = PREVIEW_CHARS
) -> tuple[list[Block], set[tuple[int, int]], bool]:
    """The start of an answer up to about ``limit`` characters (whole sentences and list items), then the
    highlighted parts when they come later (after a ``"gap"`` block drawn as an ellipsis, with their
    heading); the highlights renumbered for the blocks returned; and whether anything was left out.
    """
    chosen: list[tuple[int, list[int]]] = []
    used, cut = 0, False
    for block_index, block in enumerate(blocks):
        taken: list[int] = []
        for part_index, part in enumerate(block.parts):
            if (chosen or taken) and used + len(part) > limit:
                cut = True
                break
            taken.append(part_index)
            used += len(part)
        if taken:
            chosen.append((block_index, taken))
        if cut:
            break
    if not cut:
        return list(blocks), set(highlighted), False
    picked: list[Block] = []
    renumbered: set[tuple[int, int]] = set()

    def add(block_index: int, parts: list[int]) -> None:
        for new_part, part_index in enumerate(parts):
            if (block_index, part_index) in highlighted:
                renumbered.add((len(picked), new_part))
        block = blocks[block_index]
        picked.append(Block(block.kind, tuple(block.parts[index] for index in parts)))

    for block_index, parts in chosen:
        add(block_index, parts)
    shown = {(block_index, part) for block_index, parts in chosen for part in parts}
    later = sorted(position for position in highlighted if position not in shown)
    if later:
        target = later[0][0]
        picked.append(Block("gap", ("…",)))
        heading = target - 1
        if heading >= 0 and blocks[heading].kind == "heading" and (heading, 0) not in shown:
            add(heading, [0])
        add(target, [part for block_index, part in later if block_index == target])
    return picked, renumbered, True


# ---- honest scores --------------------------------------------------------------------------------


def match_label(hit: Hit, result: SearchResult) -> str:
    """Words for how well a hit matches, from the score of the ranking actually used (so a card's label is
    never better than the label of a card ranked above it).

    * hybrid: the fused reciprocal-rank score as a share of its maximum (first in both the meaning and
      the keyword ranking): "strong" from 0.75 (near the top of both rankings), "good" from 0.45, else
      "partial" (with the engine's defaults, ``rrf_k`` 5 and weights 1.5 / 1: first by meaning only is
      "good", first by keywords only "partial"; the maximum uses the constant the query was fused with,
      :meth:`EngineSettings.fusion_k`);
    * dense: the cosine similarity against the calibrated abstention threshold;
    * bm25: the BM25 score as a share of the first hit's.
    """
    if result.mode == "dense":
        return confidence_label(hit.similarity, result.threshold)
    if result.mode == "hybrid":
        settings = EngineSettings()
        best = (settings.dense_weight + settings.bm25_weight) / (settings.fusion_k(result.searched) + 1)
        share = hit.score / best
    else:
        top = max((other.score for other in result.hits), default=0.0)
        share = hit.score / top if top > 0 else 0.0
    if share >= 0.75:
        return "strong match"
    if share >= 0.45:
        return "good match"
    return "partial match"


def split_hits(result: SearchResult) -> tuple[tuple[Hit, ...], tuple[Hit, ...]]:
    """``(answers, closest)``: hits at or above the calibrated threshold, in ranking order, and the
    weaker ones (shown apart as passages that may not answer the question). All hits are "closest"
    when the result abstains."""
    if result.abstain:
        return (), result.hits
    answers = tuple(hit for hit in result.hits if hit.similarity >= result.threshold)
    closest = tuple(hit for hit in result.hits if hit.similarity < result.threshold)
    return answers, closest


def is_upload(hit: Hit) -> bool:
    """Whether a hit comes from a CSV a visitor uploaded (not from an NIH site)."""
    return hit.source == UPLOAD_SOURCE


def source_line(hit: Hit) -> str:
    """Where a card's text comes from, as escaped Markdown: the source's name and a link when it is a
    plain http(s) address; uploads are called uploads, not NIH pages."""
    if is_upload(hit):
        return "Source: an uploaded dataset (not reviewed by NIH)"
    name = escape_markdown(source_name(hit.source))
    url = safe_url(hit.url)
    return f"Source: {name} · [open the original page]({url})" if url else f"Source: {name}"


@dataclass(frozen=True)
class AnswerView:
    """What an answer view shows, in order (the one policy both the Ask and Compare pages follow).

    Attributes:
        emergency: the emergency notice, shown first; ``None`` when there is none.
        abstain_message: "I don't have a reliable answer ..." or ``None``. Never after an emergency
            notice: a frightened caregiver is told to call for help, not to ask a doctor later.
        answers: the reliable hits, in ranking order.
        closest: hits that may not answer the question, shown apart (never after an emergency notice:
            the notice and reliable information only).
    """

    emergency: EmergencyNotice | None
    abstain_message: str | None
    answers: tuple[Hit, ...]
    closest: tuple[Hit, ...]


def answer_view(result: SearchResult, *, upload: bool = False) -> AnswerView:
    """The policy for showing a result: emergency notice first; the abstain message only without one."""
    answers, closest = split_hits(result)
    if result.emergency is not None:
        # The engine answers an emergency with its condition's NIH information when it has it reliably
        # (SearchResult.emergency); nothing unreliable follows the notice.
        return AnswerView(result.emergency, None, answers, ())
    message = abstain_message(upload=upload) if result.abstain else None
    return AnswerView(None, message, answers, closest)


def disclaimer(*, upload: bool = False) -> str:
    """The disclaimer under every answer view; for an uploaded dataset it does not claim NIH sources."""
    if not upload:
        return DISCLAIMER
    return DISCLAIMER.replace(
        "general educational information from NIH sources",
        "text from an uploaded dataset (not reviewed by NIH)",
    )


def abstain_message(*, upload: bool = False) -> str:
    """The abstain reply, naming the collection that was searched."""
    if not upload:
        return ABSTAIN_MESSAGE
    return ABSTAIN_MESSAGE.replace("the NIH MedQuAD collection", "this uploaded dataset")


def result_text(result: SearchResult, *, width: int = 100, answer_chars: int = 700) -> str:
    """A plain-text rendering of a result for the terminal, with the pages' policy (:func:`answer_view`):
    the emergency notice first, the abstain reply only without one, weak hits set apart, the
    disclaimer last."""
    view = answer_view(result)
    lines: list[str] = []
    if view.emergency is not None:
        lines += [
            "!" * min(width, 60),
            f"{view.emergency.title.upper()}: {view.emergency.message}",
            "!" * min(width, 60),
            "",
        ]
    lines += [f"note: {note}" for note in result.notes]
    if result.follow_up is not None:
        lines.append(f"{result.follow_up.note}.")
    if view.abstain_message is not None:
        lines += [
            view.abstain_message,
            f"(best similarity {result.confidence:.2f} < threshold {result.threshold:.2f})",
        ]

    def card(number: int, hit: Hit, label: str | None) -> list[str]:
        preview, _ = split_answer(hit.answer, answer_chars)
        where = "uploaded dataset" if is_upload(hit) else source_name(hit.source)
        return [
            "",
            f"{number}. {hit_title(hit)}",
            f"   Q: {hit.question}",
            f"   {label + ' · ' if label else ''}{where}",
            *([f"   {hit.url}"] if hit.url else []),
            textwrap.indent(textwrap.fill(preview, width - 3), "   "),
        ]

    for number, hit in enumerate(view.answers, start=1):
        lines += card(number, hit, match_label(hit, result))
    if view.closest:
        lines += ["", "Closest passages (may not answer your question):"]
        for number, hit in enumerate(view.closest, start=len(view.answers) + 1):
            lines += card(number, hit, None)
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


# ---- comparisons in plain words ------------------------------------------------------------------
#: What each metric means, for people who are not search specialists (tooltips and the metrics table).
METRIC_HELP = {
    "accuracy@1": "Share of questions whose first answer is right.",
    "accuracy@3": "Share of questions with a right answer among the first 3.",
    "accuracy@5": "Share of questions with a right answer among the first 5.",
    "accuracy@10": "Share of questions with a right answer among the first 10.",
    "mrr@10": "1 if the right answer is always first, 0.5 if usually second.",
    "ndcg@10": "How high the right answers sit in the first 10 (1 = perfect).",
    "map@100": "How high all right answers sit in the first 100 (1 = perfect).",
}


def metric_help(metric: str) -> str:
    """A plain sentence explaining a metric column (empty when unknown)."""
    return METRIC_HELP.get(metric, "")


def comparison_headline(summary: object, reference: str, other: str, *, judged_by: str = "answer") -> str:
    """The one sentence a clinician needs: how often each system puts a right answer first.

    Args:
        summary: the evaluation's summary table (``system`` and ``accuracy@1`` columns).
        reference: the reference system's label.
        other: the system compared with it.
        judged_by: ``"answer"`` (held-out pairs) or ``"topic"`` (consumer questions judged by focus area).
    """
    table = summary.set_index("system")  # type: ignore[attr-defined]
    first = {label: float(table.loc[label, "accuracy@1"]) for label in (other, reference)}
    right = "a right answer" if judged_by == "answer" else "an answer on the right topic"
    return (
        f"{right[0].upper()}{right[1:]} comes first for **{first[other]:.0%}** of the questions with "
        f"**{escape_markdown(other)}**, against **{first[reference]:.0%}** with "
        f"**{escape_markdown(reference)}**."
    )


def rank_text(rank: object) -> str:
    """A rank for a table cell: the number, or "not in the top 100" (never "None" or "nan")."""
    try:
        value = float(rank)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "not in the top 100"
    return "not in the top 100" if math.isnan(value) else str(int(value))
