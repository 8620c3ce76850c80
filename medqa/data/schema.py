"""Column names of the question-answer tables every part of medqa shares.

A *pairs table* is a ``pandas.DataFrame`` with one row per question-answer pair:

========================  ====================================================================
column                    meaning
========================  ====================================================================
``id``                    stable pair id (MedQuAD ``qid`` such as ``0000001_1-1``; ``csv-<n>``
                          for uploads)
``doc_id``                MedQuAD document id (one document = one focus area page)
``source``                NIH source name (``CancerGov``, ``GARD``, ``MPlusHealthTopics`` ...)
``url``                   page the answer comes from
``focus``                 focus area (disease, drug, test ...), e.g. ``Alzheimer's Disease``
``qtype``                 MedQuAD question type (``information``, ``symptoms``, ``treatment`` ...)
``question``              question text
``answer``                answer text (empty string when the source removed it)
``synonyms``              focus synonyms joined by ``" | "`` (may be empty)
``cui``                   UMLS CUIs joined by ``" "`` (may be empty)
``semantic_type``         UMLS semantic types joined by ``" "`` (may be empty)
``semantic_group``        UMLS semantic group (may be empty)
``category``              MedlinePlus focus category (Disease, Drug, Other; may be empty)
``has_answer``            ``True`` when ``answer`` is not empty
``split``                 curated and uploaded sets only: ``"train"`` or ``"test"``
========================  ====================================================================

A *corpus* is a pairs table restricted to rows with an answer; retrieval, training and
evaluation all work on corpora.
"""

from __future__ import annotations

ID = "id"
DOC_ID = "doc_id"
SOURCE = "source"
URL = "url"
FOCUS = "focus"
QTYPE = "qtype"
QUESTION = "question"
ANSWER = "answer"
SYNONYMS = "synonyms"
CUI = "cui"
SEMANTIC_TYPE = "semantic_type"
SEMANTIC_GROUP = "semantic_group"
CATEGORY = "category"
HAS_ANSWER = "has_answer"
SPLIT = "split"

TEXT_COLUMNS = (
    ID,
    DOC_ID,
    SOURCE,
    URL,
    FOCUS,
    QTYPE,
    QUESTION,
    ANSWER,
    SYNONYMS,
    CUI,
    SEMANTIC_TYPE,
    SEMANTIC_GROUP,
    CATEGORY,
)
PAIR_COLUMNS = (*TEXT_COLUMNS, HAS_ANSWER)

TRAIN = "train"
TEST = "test"
SYNONYM_SEPARATOR = " | "
#: MedQuAD sources written for specialists (genetics and rare diseases): 10,819 of the 16,423 answered
#: pairs, and none of the consumer questions' topics is found only there.
SPECIALIST_SOURCES = ("GHR", "GARD")
