"""MedQuAD's question templates: recognise them to recover a question's focus area and type.

MedQuAD questions are generated from a few dozen templates per question type ("What is (are) X ?",
"What are the symptoms of X ?" ...). A CSV that lost its focus column (like the original project's
``clean_MedQuAD_autotrain_ready.csv``) can have the focus read back from the question itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ``(template, qtype)``; ``{X}`` marks the focus. Longer, more specific templates come first.
QUESTION_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("what research (or clinical trials) is being done for {X}", "research"),
    ("what research is being done for {X}", "research"),
    ("what are the brand names of combination products of {X}", "brand names of combination products"),
    ("what are the brand names of {X}", "brand names"),
    ("what to do in case of emergency or overdose of {X}", "emergency or overdose"),
    ("what to do in case of a severe reaction to {X}", "severe reaction"),
    ("what are the side effects or risks of {X}", "side effects"),
    ("are there safety concerns or special precautions about {X}", "precautions"),
    ("what other information should i know about {X}", "other information"),
    ("who should get {X} and why is it prescribed", "indication"),
    ("who should not get {X} and what are its contraindications", "contraindication"),
    ("how should {X} be used and what is the dosage", "usage"),
    ("what should i know about storage and disposal of {X}", "storage and disposal"),
    ("what should i do if i forget a dose of {X}", "forget a dose"),
    ("what special dietary instructions should i follow with {X}", "dietary"),
    ("what important warning or information should i know about {X}", "important warning"),
    ("what is the action of {X} and how does it work", "how does it work"),
    ("are there interactions between {X} and other medications", "interactions with medications"),
    (
        "are there interactions between {X} and herbs and supplements",
        "interactions with herbs and supplements",
    ),
    ("are there interactions between {X} and foods", "interactions with foods"),
    ("what are the genetic changes related to {X}", "genetic changes"),
    ("how many people are affected by {X}", "frequency"),
    ("where to find support for people with {X}", "support groups"),
    ("do i need to see a doctor for {X}", "when to contact a medical professional"),
    ("do you have information about {X}", "other information"),
    ("what are the signs and symptoms of {X}", "symptoms"),
    ("what are the symptoms of {X}", "symptoms"),
    ("what are the treatments for {X}", "treatment"),
    ("is there any treatment for {X}", "treatment"),
    ("what are the complications of {X}", "complications"),
    ("what are the stages of {X}", "stages"),
    ("what is the outlook for {X}", "outlook"),
    ("what is the prognosis for {X}", "outlook"),
    ("what is the dosage of {X}", "dose"),
    ("how effective is {X}", "how effective is it"),
    ("how can i learn more about {X}", "how can i learn more"),
    ("why get vaccinated with {X}", "why get vaccinated"),
    ("who is at risk for {X}", "susceptibility"),
    ("how to diagnose {X}", "exams and tests"),
    ("how to prevent {X}", "prevention"),
    ("what to do for {X}", "considerations"),
    ("what causes {X}", "causes"),
    ("is {X} inherited", "inheritance"),
    ("what is (are) {X}", "information"),
    ("what is {X}", "information"),
    ("what are {X}", "information"),
)

#: Trailing characters dropped from a question and its focus (after whitespace is collapsed to single
#: spaces). ``str.rstrip``, not a ``[...]+$`` pattern: the regex engine retries that pattern at every
#: position of a long run it cannot end ("?" x 40,000 + "x" took 15 s); rstrip is linear.
_TRAILING = " ?.!"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class TemplateMatch:
    """A question recognised as one of MedQuAD's templates."""

    focus: str
    qtype: str
    template: str


def _compile(template: str) -> re.Pattern[str]:
    before, after = template.split("{X}")
    return re.compile(rf"^{re.escape(before)}(?P<focus>.+?){re.escape(after)}$", re.IGNORECASE)


_PATTERNS = tuple((_compile(template), template, qtype) for template, qtype in QUESTION_TEMPLATES)


def normalise_focus(focus: str) -> str:
    """A focus key that ignores case, surrounding punctuation and spacing."""
    return re.sub(r"\s+", " ", focus).strip(" ?.!,;:").casefold()


def match_template(question: str) -> TemplateMatch | None:
    """Recognise a templated question and return its focus and question type, else ``None``."""
    text = _SPACES.sub(" ", question).strip().rstrip(_TRAILING)
    for pattern, template, qtype in _PATTERNS:
        found = pattern.match(text)
        if found:
            focus = found.group("focus").rstrip(_TRAILING).strip()
            if focus:
                return TemplateMatch(focus=focus, qtype=qtype, template=template)
    return None
