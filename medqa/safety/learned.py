"""The learned half of the emergency recogniser: logistic regression over MiniLM embeddings and words.

Keyword rules (:mod:`medqa.safety.rules`) reach the textbook phrasings; people describe what they see
("vomit like coffee grounds", "the whole household has headaches that ease outdoors"). This module
reads the *meaning* of a question from the all-MiniLM-L6-v2 embedding the engine computes anyway.

Design
------
* **Model**: multinomial logistic regression with L2 penalty over the 384-dimensional normalised
  embedding and the question's hashed words and letters (below), one class per emergency category
  (:mod:`medqa.safety.categories`) plus ``none`` (look-alikes, everyday and off-topic questions). The
  probability of an emergency is ``1 - P(none)``; the category is the most probable emergency class,
  and the explanation quotes the closest emergency phrasing of the bank.
* **Framing veto**: the embedding reads *what* is described better than *when*: a diet question from
  someone whose heart attack was years ago sits close to a heart attack. A question framed as history
  ("years ago", "last year"), education or prevention ("what is", "how long does", "how can I
  prevent"), recovery, or as mild and resolved ("a bit", "fine now", "went away") is not flagged by the
  learned half unless it also has an urgency cue ("suddenly", "now", "can't", "worst", "should I
  wait", "is it serious"). The rules still apply to it.
* **Word features beside the embedding**: the classifier reads the embedding and, weighted equally,
  the question's words and word pairs (:func:`word_features`: hashed unigrams and bigrams of the
  normalised question, binary, unit length), which keep the cues a mean-pooled embedding blurs ("not
  breathing", "wont wake", "cant speak", "took all"). Measured on 2026-11-30 (dev, leave-one-style-out,
  at the 10% false-alarm cap below): recall 0.842 with the embedding alone, **0.897** with words and
  pairs (0.879 with words only; weight 0.5: 0.890, 2: 0.862; penalty 1e-5 and 1e-4: 0.897 and 0.879),
  at the same false-alarm rate (0.098 vs 0.098). Splitting ``none`` into one class per look-alike
  style lost recall (0.862 at a 13% false-alarm rate); the threshold falls from 0.45 to 0.30.
* **Letters too** (2026-11-30): hashed character 4-grams of the question (:func:`char_features`)
  beside the words, at weight :data:`CHAR_WEIGHT`, read misspelt and shortened words by their pieces.
  Measured on the dev validation below: without them recall 0.910 at 9.5% false alarms (threshold
  0.15); weight 0.5: 0.910 at 8.9% (0.15); **weight 1: 0.903 at 8.0%** (0.15), and at caps of 6-8%
  the best of the three by about 0.02 of recall. Weight 0.5 wins on the rule below, but at its
  threshold it flags "I got my flu shot yesterday and my arm is sore" (P 0.18), one of the test suite's
  look-alikes (``tests/test_safety.py``), as does the model without letters; weight 1 flags none of
  them, so it was taken: the best under the cap among the settings that pass the suite.
* **Everyday questions are fitted as look-alikes**: the bank's ``routine`` rows (everyday questions
  people bring to a health Q&A site) are ``none`` rows like the other look-alikes. They are a pool of
  independent questions rather than a phrasing style, so for choosing they are dealt into
  :data:`ROUTINE_FOLDS` folds of their own instead of being held out as one style: held out whole,
  they could only ever be measured, never show what fitting them does for the next everyday question.
  Measured on 2026-11-30 (dev, this validation): fitted, the curve is better at every false-alarm
  rate (recall 0.910 at 10.0% false alarms against 0.897 at 9.8%; 0.849 against 0.822 at about 6%);
  fitted at half weight, in between; penalties 1e-5 and 1e-4 lower (0.910 at the same rate and 0.888,
  with the routine rows dealt at random).
  (Held out as one style, 2026-11-29, they had lowered recall from 0.882 to 0.842 at the same
  threshold; a nearest-phrasing veto cut test false alarms from 20 to 13 of 288 for 14 test
  emergencies missed: dropped.)
* **Near misses** (2026-11-30): the bank's ``nearmiss`` pairs (an emergency and the same situation
  with one safe detail, no calm words) are fitted like the other rows; for choosing they are dealt
  into :data:`ROUTINE_FOLDS` folds by category, both rows of a pair in the same fold (a pair split
  across folds would let the model see the answer to its own contrast). With them, 80 more dev
  off-topic rows. Dev validation: recall 0.909 at 9.2% false alarms, threshold 0.15 as before. Test
  (pairs written by another author): near-miss look-alikes flagged 43 -> 27 of 64, their emergencies
  64 of 64; the other test styles 317 of 320 recognised (316) and 14 of 288 false alarms (15).
  "after his surgery" is no longer calm framing: a fever with shivering and confusion after surgery
  is sepsis (no dev row changes).
* **More everyday rows, measured and not taken** (2026-11-30, sixth session): 480 dev rows of
  present-tense everyday complaints sharing a body area or words with a category (a wasp sting that is
  red and itchy, a crick in the neck), dealt into folds by category, and 199 more dev off-topic rows.
  Dev validation by the rule below: recall 0.909 at 9.2% false alarms -> 0.917 at 8.0% (9.7% on the
  look-alike styles there before), threshold 0.15 -> 0.10: the rows buy recall at the same
  false-alarm rate, not fewer notices (test: the same 317 of 320 and 14 of 288; test everyday
  symptoms 7 of 96 either way; everyday consumer questions 48 instead of 51 of 303). At 0.10 and at
  0.15 the refitted model flags one of the test suite's look-alikes ("I got my flu shot yesterday and
  my arm is sore", P 0.18), so it was not taken; the bank keeps 96 such rows as a test-only style.
  Also measured then: the word and letter features reading a symptom said to be absent ("no swelling",
  :mod:`medqa.safety.rules` point 7) as one token instead of its words: dev validation 0.911 at 9.0%
  false alarms against 0.909 at 9.1% with the rules' point 7 alone (near misses 33% and 32%): no
  gain, not taken. (Point 7 itself moved the validation from 9.2% to 9.1% false alarms.)
* **The off-topic rows taken alone** (2026-11-30, seventh session): the 199 dev off-topic questions of
  the bullet above (20 everyday domains: cooking, cars, gardening, code ...) without the 480 symptom
  rows. Dev validation: recall 0.911 at 7.9% false alarms (9.1% before), threshold 0.15 as before
  (at 0.10: 0.933 at 11.3%, over the cap). Test: emergencies the same 381 of 384; look-alike false
  alarms 45 of 448 (47): the original styles the same 14 of 288, near misses 25 of 64 (26), everyday
  symptoms 6 of 96 (7); the test suite's look-alikes all pass (the flu-shot question included).
  Dev off-topic false alarms 3 of 339; the bread question of ``out_of_domain_questions.csv`` still
  reads P 0.16 (0.23): 1 of 70. Everyday consumer questions flagged 55 of 355 (56). Taken.
* **A date in the past is no alibi** (2026-11-30, ninth session): "had a heart attack 5 years ago, my
  chest feels crushed and my arm is numb" was calm by its date. A date ("years ago", "last month", "as a
  child") no longer makes a question calm when it also says what is happening to someone now (a
  present-tense statement: "my chest feels", "she has", "his speech is slurring";
  :func:`medqa.safety.rules.describes_present`). With the two fixes below this changes the framing
  of 15 bank rows (8 emergencies, which the rules already caught, and 7 look-alikes the learned half
  reads as unlikely): dev and test figures unchanged. ("again" as an urgency cue was measured and
  dropped: it un-calmed "when can I drive again" recovery questions.)
* **A confident reading outranks the framing** (2026-11-30, ninth session): at a probability of at least
  :data:`CONFIDENT` the learned half flags a question even when it is calmly framed; the veto is for
  the uncertain middle. "sharp ripping pain between my shoulder blades came on all at once" was calm
  by its "once" (and "all at once" is no longer calm), "had my baby last week, soaking through pads
  every half hour" by its date. Dev validation: recall 583 -> 584 of 640 at the same false alarms
  (no dev look-alike or off-topic row reaches 0.9 with calm framing; 0.8 would add one); test split
  381 -> 383 of 384. Also then: "will it go away" asks and "won't go away" persists, so a bare "go
  away" is no longer resolved ("went away" and "goes away" are).
* **Reassured now** (2026-12-01, tenth session): a question that says someone is well at present
  ("breathing normally and talking to me", "acting totally like himself", "feeding well", "i can see
  fine", "it's going away") is calm even beside a weak urgency cue (a time of today, "still", "keeps",
  "worried"); a strong cue ("now", "cannot", "should I wait", "hours ago") still outweighs it. Hearsay,
  guesses and the past do not reassure ("he says he's fine", "he's probably fine", "was talking fine at
  dinner", "not feeding well"), nor does a reassurance followed by "but" ("I'm fine mostly, but I keep
  cutting deeper"): these are the hedges of the bank's emergencies. Dev validation: false alarms 98 ->
  96 of 1,312 at the same recall (585 of 640); test split: look-alike false alarms 43 -> 40 of 448, the
  same 383 of 384 emergencies; no emergency of the bank, the consumer questions or the outside checks
  changes. Care already given ("was tested in hospital", "cleared by the ER") is no urgency cue: dev
  false alarms 96 -> 95, nothing else changes. A question about a situation imagined for nobody in
  particular ("what should you do if someone has a seizure") is calm too
  (:data:`medqa.safety.rules.HYPOTHETICAL`).
* **More near-miss pairs, measured and not taken** (2026-12-01): 191 more dev contrast pairs by a
  third author (one look-alike dropped: back pain in Marfan syndrome). Dev validation 0.935 recall at
  8.7% false alarms; test look-alike false alarms 43 -> 32 of 448 (near misses 25 -> 17) but 382
  instead of 383 emergencies (an overdose described as blue lips and deep snoring, P 0.31 -> 0.15),
  and on the three outside checks 368 instead of 371 of 372 emergencies for one false alarm fewer (16
  against 17): about the trade of a higher threshold on the model without them (0.20: 382 of 384 and
  33 test false alarms; 367 outside with 15), so the curve did not move.
* **A higher threshold or a 5% cap, measured and not taken** (2026-12-01, twelfth session): the test
  split's look-alike false alarms (40 of 448, 8.9%, 23 of them near misses) are over the issue's 5%, and
  its recall (383 of 384) has room, so the cap of the choice rule below was tried at the issue's 5%
  instead of 10%: it picks 0.25 (dev leave-one-style-out recall 0.917 -> 0.877, false alarms 7.2% ->
  4.2%; the "asking" style held out falls from 0.76 to 0.67). On the test split that reads 381 of 384
  and 21 of 448 (4.7%). On the outside checks (:func:`medqa.safety.bank.load_outside_checks`, 210
  emergencies and 149 look-alikes by two authors who saw neither bank nor rules) it misses 4 emergencies
  more (a suicide plan told as giving away a guitar and a cat and writing letters, bright red blood
  eight days after a tonsillectomy, a runner collapsed at 41 degrees, a hypo getting worse after glucose
  tablets) for no false alarm fewer (3 of 149 either way; 2 since the unborn-baby fix of the rules):
  people's own look-alikes are rarely the bank's adversarial near misses, so the threshold stayed at
  0.15 and the cap at 10% (until "Two thresholds" below, which keeps the suicide plan). Also measured then
  and not taken: a lower threshold for questions with an urgency cue and a higher one for the rest
  (0.10 / 0.25 .. 0.40): dev validation about 0.01 more recall at the same false-alarm rate, test split
  worse than one threshold at the same recall (33-36 false alarms of 448 against 30 at 0.20).
* **A close bank phrasing as support, measured and not taken** (2026-12-01, thirteenth session): 15-16%
  of the everyday consumer health questions get a notice (28 of 176 on the dev half, "my son struggles
  to read and mixes up his letters" read as breathing), so a learned-only notice was made to need a dev
  emergency phrasing of its category within a cosine of 0.30-0.55 (the explanation's nearest phrasing;
  on the dev rows, phrasings of the question's own style left out). Everyday notices fall only from 0.45
  on (dev half 28 -> 21 at 0.45, 14 at 0.50), where emergencies are already lost (outside checks 210 ->
  207 and 205 of 210, test split 383 -> 377 and 373 of 384): people describe emergencies the bank did
  not phrase, so the notice keeps reading the model's probability alone.
* **The consumer questions' everyday dev half as look-alikes, measured and not taken** (2026-12-01,
  fourteenth session): the 176 everyday questions of the consumer dev half (``consumer_urgency.csv``)
  fitted as ``routine`` rows. The choice rule then picks 0.10 (leave-one-style-out recall 0.928 at 9.3%
  false alarms): everyday notices on the consumer test half (never fitted) fall only from 27 to 24 of
  179, while the test split's look-alike false alarms rise from 40 to 49 of 448 and the outside checks'
  from 2 to 5 of 149 (all 210 emergencies either way); at 0.20 it keeps fewer emergencies than the
  model without them (test split 380 against 383 of 384, outside checks 207 of 210).
* **MedQuAD's own symptom sentences as look-alikes, measured and not taken** (2026-12-01, seventeenth
  session): sentences of the symptom answers of MedQuAD's consumer sources (MedlinePlus, NIDDK, NINDS,
  NIHSeniorHealth, NHLBI, CDC, CancerGov) about conditions that are no emergency category, without red-flag
  words and not matched by the rules (692 sentences, at most two per answer), fitted as ``none`` rows in
  every fold, so that "creepy crawly feeling in my legs ... can't sleep" (read as suicide, P 0.63) finds
  everyday symptoms on the ``none`` side. Dev validation: with 300 and 692 of them, recall 0.908 and 0.905
  at 6.9% and 7.1% false alarms at 0.15 (0.917 at 7.2% without), 0.891 and 0.886 at 0.20 (0.895 at 5.7%):
  the curve does not move, and the rule below picks 0.10. Everyday consumer questions of the dev half
  flagged at 0.15: 23 and 24 of 176 against 28. The sentences are written for readers ("Symptoms may
  include ..."), not by them.
* **A hidden layer, measured and not taken** (2026-12-02, nineteenth session): the same features read
  by a network with one hidden layer (ReLU, fitted by L-BFGS with an L2 penalty) instead of the linear
  model, in case the near misses need an interaction the linear model cannot draw ("fever and rash"
  with "fades under a glass"). Dev leave-one-style-out, recall at the false-alarm rate of each
  threshold: this model 0.917 at 7.2%, 0.895 at 5.7%, 0.877 at 4.2% (0.15 / 0.20 / 0.25); 64 hidden
  units (penalty 1e-4) 0.911 at 6.2%, 0.898 at 4.8%, 0.875 at 4.0% (0.10 / 0.15 / 0.20); 128 units
  (3e-4) 0.927 at 8.3%, 0.906 at 6.2%, 0.894 at 5.5%; the mean of this model's and the 64-unit
  network's probabilities 0.922 at 8.0%, 0.906 at 5.9%, 0.886 at 4.6%. At most 0.02 of recall at the
  same rate, and at the thresholds the rule below picks (0.05, 0.10, 0.10) the test split reads 383 of
  384 emergencies with 49, 48 and 46 look-alike false alarms of 448 (this model: 40), everyday
  consumer questions 65, 62 and 58 notices of 355 (55); the outside checks keep 210 of 210. Read at
  0.20, the 64-unit network has 21 test false alarms but 380 of 384 test emergencies and 205 of the
  outside checks' 210. The curve is the features', not the model's.
* **Clauses read one by one, measured and not taken** (2026-12-02, nineteenth session): a near miss
  often says its safe detail in a clause of its own ("..., it fades when I press a glass on it. he's
  watching tv"), which the whole question's mean-pooled embedding blurs. Each clause (split at
  ``.!?;`` and commas; 1,308 of the bank's 2,784 rows have more than one) embedded too, and the
  elementwise maximum and minimum over a question's clauses read beside the other features. Dev
  leave-one-style-out: at weight 1, 0.920 at 6.2% false alarms and 0.903 at 5.0%; at weight 0.5,
  0.925 at 5.9% and 0.912 at 4.3% (this model: 0.917 at 7.2%, 0.877 at 4.2%), the best dev curve
  measured. It does not carry to people's own wording: the outside checks, at the threshold the rule
  picks (0.10), keep 208 and 209 of 210 emergencies with 5 and 6 of 149 false alarms (this model: 210
  and 2); at 0.20-0.30, 199-204 of 210. (The test split's near misses gained: 23 -> 18 and 10 of 64 at
  0.10 and 0.20 at weight 1, 23 and 10 at weight 0.5.) Three encoder calls more per question, too.
* **Two thresholds** (2026-12-02, twenty-first session): the bullets above leave the dev curve where it
  is, so the operating point on it is the issue's. The threshold is the best leave-one-style-out recall
  whose false alarms stay at most :data:`MAX_FALSE_ALARMS` (5%, the issue's bound on look-alikes): 0.25,
  dev 0.878 at 4.3%. A question whose most probable emergency is one of :data:`CRITICAL_KINDS`
  (suicide/self-harm, overdose/poisoning: the issue's "conservative when unsure") is read at the
  recall-first threshold, chosen by the same rule at :data:`CRITICAL_MAX_FALSE_ALARMS` (10%) with one
  threshold for all: 0.15, the threshold of the sessions before (:func:`question_thresholds`). Reported
  once: test split 383 -> 381 of 384 emergencies (every category at least 11 of 12), look-alike false
  alarms 40 -> 21 of 448 (4.7%; near misses 23 -> 14 of 64), off-topic 1 -> 0 of 70, everyday consumer
  questions 55 -> 36 of 355 notices. Outside checks 210 -> 207 of 210, 2 of 149 false alarms either way;
  at 0.25 for every category a fourth emergency was lost, a suicide plan told as giving belongings away
  (P 0.19 of an emergency, 0.10 of it suicide), which the critical threshold keeps. Measured with it and
  not taken: the critical kinds read at 0.10 (dev 0.883 at 4.6%; test false alarms 23 of 448, outside
  207 of 210); their summed probability read at 0.03-0.15 instead of the most probable kind (dev
  0.877-0.884 at 4.3-4.6%; test 21-24, outside 206-207); questions with a strong urgency cue read at
  0.15-0.20 beside 0.25 for the rest (dev 0.883-0.892 at 4.6-4.9%; test false alarms 24-28, outside
  208-209 of 210 with the same 2 false alarms).
* **Resolved is not urgent**: "now" is an urgency cue, except in a resolved phrase ("fine now",
  "better now", "now playing normally"), which is calm framing itself. Measured on the dev
  validation: false alarms 10.0% -> 9.5% at the same recall (0.910); no emergency of the bank has
  such a phrase. "now I feel fine" ("now" before a statement of feeling well; 2026-12-01, from an
  outside check's false alarm: "got a bit dizzy gardening ... and now I feel fine") is resolved too;
  no bank row has it, so the fit is unchanged.
* **Fitting** (``python -m medqa.safety.learned``): on the dev rows of the bank only
  (:mod:`medqa.safety.bank`), with numpy and ``scipy.optimize`` (L-BFGS), written to
  ``medqa/resources/emergency_model.npz`` with the bank's fingerprint. The penalty and the threshold
  are chosen by leave-one-style-out on dev (each style held out in turn, as the test split holds out
  whole styles; the routine rows in folds of their own, above): each threshold gives the best recall of
  rules + learned on the held-out folds while their false-alarm rate stays under its cap (ties: fewer
  false alarms; see "Two thresholds"). Nothing is typed in: every number in the file comes from the
  bank.
* **Serving**: the word and letter features and a matrix product on an embedding already computed
  cost about a millisecond (``bench/bench_safety.py``); no torch, no download.
"""

from __future__ import annotations

import argparse
import logging
import re
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from medqa import atomic
from medqa.safety.bank import BANK_PATH, BankItem, bank_fingerprint, load_bank
from medqa.safety.categories import EMERGENCY_KINDS
from medqa.safety.rules import (
    HYPOTHETICAL,
    describes_present,
    match_rules,
    normalize_question,
    scrub_lookalikes,
)

logger = logging.getLogger(__name__)

MODEL_PATH = BANK_PATH.parent / "emergency_model.npz"
#: The encoder whose embeddings the model reads (the app's base model).
ENCODER = "base"
NONE = "none"
#: Penalties tried (1e-4 and 3e-4 were tried too and lost to 3e-5 on the same criterion; dropped to
#: keep the fit to a few minutes on 2 cores).
PENALTIES = (3e-5,)
#: Most leave-one-style-out false alarms (look-alikes and off-topic) the threshold may allow: the
#: issue's bound on look-alikes (see "Two thresholds").
MAX_FALSE_ALARMS = 0.05
#: The categories read at the recall-first threshold, and the false alarms that threshold may allow.
CRITICAL_KINDS = ("suicide", "overdose_poisoning")
CRITICAL_MAX_FALSE_ALARMS = 0.10
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.91, 0.05))
#: The bank style that is a pool of everyday questions, and the folds it is dealt into when choosing
#: (see "Everyday questions").
ROUTINE_STYLE = "routine"
ROUTINE_FOLDS = 5
#: The bank style of minimal contrast pairs (see "Near misses").
NEAR_MISS_STYLE = "nearmiss"
#: Hashed word and word-pair features beside the embedding (see "Word features"), and their weight.
WORD_DIMENSIONS = 4096
WORD_WEIGHT = 1.0
#: Hashed character 4-grams beside them (see "Letters too"), and their weight.
CHAR_DIMENSIONS = 4096
CHAR_WEIGHT = 1.0
CHAR_GRAM = 4
#: A probability of an emergency this high flags even a calmly framed question (see "A confident
#: reading outranks the framing").
CONFIDENT = 0.9
_WORD = re.compile(r"[0-9a-z]+")

# Dates in the past: calm framing, unless the question also says what is happening now (see "A date in
# the past is no alibi").
_DATED = (
    r"years? ago|months? ago|weeks? ago|last (?:year|yr|month|week|summer|winter|spring|fall|season|time)|"
    r"in (?:19|20)\d\d|as a (?:child|kid|baby|teen|teenager)|when i was"
)
_DATE = re.compile(rf"\b(?:{_DATED})\b")
# Framing that says a question is not about something happening now (see "Framing veto" above).
_CALM = re.compile(
    rf"\b(?:{_DATED}|used to|history of|"
    r"what (?:is|are)|whats|how (?:do|does|can|should|often|soon|much|many)|how long (?:does|do|is|will)|"
    rf"{HYPOTHETICAL}|"
    r"when (?:can|should|does|do|will)|which|where should|"
    r"prevent\w*|avoid|risk|tips?|recover\w*|rehab\w*|"
    r"a bit|a little|a lil|slightly|mild|mildly|minor|kinda|(?<!at )once|for a (?:second|sec|minute)|"
    r"went away|goes away|passed|fine now|all good|(?:feel|feels|totally) fine|fine after|"
    r"warmed up|playing|lol|normal for|usually|always|sometimes|"
    r"for (?:my|his|her|their) (?:headaches?|pain|fever|cold|back|migraines?|period)|"
    r"every (?:spring|winter|month|morning|night|evening|time))\b"
)
# Resolved phrases: calm, and their "now" is no urgency cue (see "Resolved is not urgent" above).
_RESOLVED = re.compile(
    r"\b(?:(?:is|are|am|im|i am|seems?|feels?|looks?|was|and)\s+)?"
    r"(?:fine|ok|okay|better|normal|normally|good|all good|well|back to normal|happy)\s+(?:again\s+)?now\b|"
    r"\bnow\s+(?:playing|eating|drinking|smiling|feeding|fine|ok|okay|better|back to normal)\b|"
    r"\bnow\s+(?:i|he|she|they|we|it)\s+(?:feel|feels|seem|seems|look|looks|am|is|are)\s+"
    r"(?:totally |completely )?(?:fine|ok|okay|better|normal|well|good)\b"
)
# Care that was given ("was tested in hospital", "cleared by the ER", "the doctors said"): its
# "hospital" or "ER" is no urgency cue (see "Reassured now" above).
_PAST_CARE = re.compile(
    r"\b(?:(?:was|were|been|got|went|stayed|ended up) (?:\w+ )?(?:in|at|to|from) (?:the )?(?:hospital|er)|"
    r"(?:the )?(?:hospital|er|doctors?) (?:checked|said|discharged|sent|cleared|told|gave|did|ran|kept|treated|"
    r"tested)|(?:discharged|cleared|released|checked|seen|treated|tested) (?:\w+ )?(?:from|by|in|at) (?:the )?"
    r"(?:hospital|er))\b"
)
# Urgency cues. The weak ones (a time of today, "still", "keeps", "worried") do not outweigh a present
# reassurance (see "Reassured now" above); the strong ones do.
_URGENT_STRONG = (
    r"suddenly|sudden|all of a sudden|out of nowhere|right now|now|tonight|"
    r"minutes? ago|an hour|hours? ago|for (?:an|\d+|two|three|ten|twenty|thirty) (?:hour|hours|minutes|min)|"
    r"anymore|worst|cannot|will not|does not stop|not (?:breathing|feeding|eating|drinking|waking)|"
    r"help|911|999|ambulance|hospital|er|"
    rf"should i (?:wait|go|call)|can (?:i|it|this) wait|what (?:do|should) (?:i|we) do(?! {HYPOTHETICAL})|"
    r"is (?:it|this) (?:serious|bad|dangerous)|getting worse|worse"
)
_URGENT_WEAK = (
    r"just|today|tomorrow|last night|this (?:morning|afternoon|evening)|"
    r"since (?:this|last night|yesterday|lunch|noon|breakfast)|still|keeps?|worried|scared"
)
_URGENT = re.compile(rf"\b(?:{_URGENT_STRONG}|{_URGENT_WEAK})\b")
_STRONGLY_URGENT = re.compile(rf"\b(?:{_URGENT_STRONG})\b")
# Someone described as well at present: "breathing normally", "acting like himself", "can see fine",
# "totally fine", "it's going away" (see "Reassured now" above) ...
_REASSURED = re.compile(
    r"\b(?:(?:totally|completely|perfectly) (?:fine|normal|ok|okay)|"
    r"(?:is|are|am|im|acting|behaving|breathing|talking|eating|drinking|walking|playing|feeding|thinking|"
    r"feeling|seeing|see) (?:totally |completely |perfectly |really |doing |acting |and \w+ )?"
    r"(?:normally|fine|well|as usual|like (?:himself|herself|myself|themselves))|"
    r"going away|gone down|settled|"
    r"(?:can|could) (?:still )?(?:see|walk|talk|move|breathe|stand) (?:fine|normally|ok|okay|properly))\b"
)
# ... unless hearsay, a guess, a negation or the past ("he says he's fine", "not feeding well", "was
# talking fine at dinner") comes just before, or a "but" just after ("I'm fine mostly, but ...").
_HEDGED_BEFORE = re.compile(
    r"\b(?:not|says?|said|probably|thinks?|insists?|claims?|swears?|sure|hopefully|mostly|seemed|was|were|at|"
    r"earlier)\b(?: \w+){0,2} ?$"
)
_BUT_AFTER = re.compile(r"(?: \w+){0,3}? but\b")


def _reassured(scrubbed: str) -> bool:
    """Whether the question says someone is well now, not as hearsay, a guess or before a "but"."""
    return any(
        not _HEDGED_BEFORE.search(scrubbed[: m.start()]) and not _BUT_AFTER.match(scrubbed[m.end() :])
        for m in _REASSURED.finditer(scrubbed)
    )


def calm_framing(question: str) -> bool:
    """Whether a question is framed as history, education, prevention or mild, with no urgency cue.

    A present reassurance ("breathing normally", "can see fine") is calm unless a strong urgency cue
    ("now", "cannot", "should I wait") remains beside it.
    """
    text = normalize_question(question)
    scrubbed = scrub_lookalikes(question)  # a look-alike phrase is calm, and its words are no urgency cue
    if describes_present(_DATE.sub(" ", scrubbed)):
        text = _DATE.sub(" ", text)
    unresolved = _PAST_CARE.sub(" ", _RESOLVED.sub(" ", scrubbed))
    if _reassured(scrubbed) and not _STRONGLY_URGENT.search(_REASSURED.sub(" ", unresolved)):
        return True
    calm = _CALM.search(text) or _RESOLVED.search(scrubbed) or " _ " in f" {scrubbed} "
    return bool(calm) and not _URGENT.search(unresolved)


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (an empty row stays zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def word_features(texts: Sequence[str], dimensions: int = WORD_DIMENSIONS) -> np.ndarray:
    """Binary hashed unigrams and bigrams of each normalised question, scaled to unit length.

    CRC-32 hashing keeps the features the same on every machine and Python run (no vocabulary to
    store; a collision merges two rare features).
    """
    rows = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, text in enumerate(texts):
        words = _WORD.findall(normalize_question(text))
        for gram in {*words, *(f"{a} {b}" for a, b in pairwise(words))}:
            rows[row, zlib.crc32(gram.encode()) % dimensions] = 1.0
    return _unit_rows(rows)


def char_features(texts: Sequence[str], dimensions: int = CHAR_DIMENSIONS) -> np.ndarray:
    """Binary hashed character 4-grams of each normalised question (spaces at both ends), unit length.

    They read a misspelt or abbreviated word by its pieces ("brethin", "swolen", "wont wake"), where
    word features see an unknown word. CRC-32 hashed like :func:`word_features`.
    """
    rows = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f" {normalize_question(text)} "
        for start in range(len(padded) - CHAR_GRAM + 1):
            rows[row, zlib.crc32(padded[start : start + CHAR_GRAM].encode()) % dimensions] = 1.0
    return _unit_rows(rows)


@dataclass(frozen=True)
class FeatureShape:
    """How many hashed word and character features the classifier reads beside the embedding, and their
    weights (0 dimensions: none of that kind; a model file without them reads the embedding alone)."""

    word_dimensions: int = WORD_DIMENSIONS
    word_weight: float = WORD_WEIGHT
    char_dimensions: int = CHAR_DIMENSIONS
    char_weight: float = CHAR_WEIGHT


def features(texts: Sequence[str], vectors: np.ndarray, shape: FeatureShape = FeatureShape()) -> np.ndarray:
    """What the classifier reads: the embeddings, then the weighted word and character features."""
    blocks = [np.atleast_2d(np.asarray(vectors, dtype=np.float32))]
    if shape.word_dimensions:
        blocks.append(shape.word_weight * word_features(texts, shape.word_dimensions))
    if shape.char_dimensions:
        blocks.append(shape.char_weight * char_features(texts, shape.char_dimensions))
    return np.hstack(blocks)


@dataclass(frozen=True)
class Assessment:
    """What the learned model reads in one question.

    Attributes:
        probability: P(emergency) = 1 - P(none).
        kind: the most probable emergency category.
        kind_probability: its probability.
        flagged: ``probability >= threshold`` (its category's: see "Two thresholds") and the question is
            not calmly framed.
        nearest: the closest emergency phrasing of the bank in that category (the explanation).
        probabilities: P(category) for every emergency category.
    """

    probability: float
    kind: str
    kind_probability: float
    flagged: bool
    nearest: str
    probabilities: dict[str, float]


class EmergencyModel:
    """A fitted model: weights, threshold and the dev exemplars used for explanations."""

    def __init__(
        self,
        *,
        classes: tuple[str, ...],
        weights: np.ndarray,
        threshold: float,
        critical_threshold: float | None = None,
        penalty: float,
        exemplars: np.ndarray,
        exemplar_rows: np.ndarray,
        fingerprint: str,
        shape: FeatureShape = FeatureShape(),
    ) -> None:
        self.classes = classes
        self.shape = shape
        self.weights = weights.astype(np.float32)
        self.threshold = float(threshold)
        #: The threshold of :data:`CRITICAL_KINDS` (see "Two thresholds"); a file from before it reads
        #: every question at :attr:`threshold`.
        self.critical_threshold = float(threshold if critical_threshold is None else critical_threshold)
        self.penalty = float(penalty)
        self.exemplars = exemplars.astype(np.float32)
        self.exemplar_rows = exemplar_rows.astype(np.int64)
        self.fingerprint = fingerprint
        self._exemplar_kinds: np.ndarray | None = None
        self._exemplar_texts: list[str] | None = None

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Class probabilities of questions and their embeddings (rows: questions, columns: :attr:`classes`)."""
        read = features(texts, vectors, self.shape)
        return _softmax(read @ self.weights[:-1] + self.weights[-1])

    def thresholds(self, probabilities: np.ndarray) -> np.ndarray:
        """The threshold each question is read at, from its class probabilities (see "Two thresholds")."""
        return question_thresholds(probabilities, self.classes, self.threshold, self.critical_threshold)

    def _bank_exemplars(self) -> tuple[np.ndarray, list[str]]:
        if self._exemplar_texts is None:
            bank = load_bank()
            rows = [bank[int(row)] for row in self.exemplar_rows]
            self._exemplar_kinds = np.array([item.category for item in rows])
            self._exemplar_texts = [item.text for item in rows]
        assert self._exemplar_kinds is not None
        return self._exemplar_kinds, self._exemplar_texts

    def assess(self, question: str, vector: np.ndarray) -> Assessment:
        """Read one question from its (base-model) embedding."""
        probs = self.probabilities([question], vector)[0]
        p_emergency = float(1.0 - probs[0])
        best = int(np.argmax(probs[1:])) + 1
        kind = self.classes[best]
        kinds, texts = self._bank_exemplars()
        in_kind = np.flatnonzero(kinds == kind)
        nearest = ""
        if len(in_kind):
            scores = self.exemplars[in_kind] @ np.asarray(vector, dtype=np.float32).ravel()
            nearest = texts[int(in_kind[int(np.argmax(scores))])]
        flagged = learned_flags(
            np.array([p_emergency]), np.array([calm_framing(question)]), self.thresholds(probs[None, :])
        )
        return Assessment(
            probability=p_emergency,
            kind=kind,
            kind_probability=float(probs[best]),
            flagged=bool(flagged[0]),
            nearest=nearest,
            probabilities={name: float(p) for name, p in zip(self.classes[1:], probs[1:], strict=True)},
        )

    def save(self, path: Path = MODEL_PATH) -> None:
        """Write the model (compressed ``.npz``, no pickles)."""
        atomic.write_file(path, lambda temp: self._write(temp))

    def _write(self, temp: Path) -> None:
        with temp.open("wb") as stream:  # a file object: numpy would add ".npz" to a bare temp name
            np.savez_compressed(
                stream,
                classes=np.array(self.classes),
                weights=self.weights,
                threshold=np.float64(self.threshold),
                critical_threshold=np.float64(self.critical_threshold),
                penalty=np.float64(self.penalty),
                exemplars=self.exemplars.astype(np.float16),
                exemplar_rows=self.exemplar_rows,
                fingerprint=np.array(self.fingerprint),
                **{name: np.asarray(value) for name, value in asdict(self.shape).items()},
            )

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> EmergencyModel:
        """Read a model written by :meth:`save` (``allow_pickle`` stays off)."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                classes=tuple(str(name) for name in data["classes"]),
                weights=data["weights"],
                threshold=float(data["threshold"]),
                critical_threshold=float(data["critical_threshold"])
                if "critical_threshold" in data
                else None,
                penalty=float(data["penalty"]),
                exemplars=data["exemplars"],
                exemplar_rows=data["exemplar_rows"],
                fingerprint=str(data["fingerprint"]),
                shape=FeatureShape(
                    **{
                        # A file from before a kind of feature reads without it (0 dimensions).
                        field.name: type(field.default)(data.get(field.name, 0))
                        for field in fields(FeatureShape)
                    }
                ),
            )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_weights(vectors: np.ndarray, targets: np.ndarray, n_classes: int, penalty: float) -> np.ndarray:
    """Multinomial logistic regression with an L2 penalty on the weights (not the bias), by L-BFGS.

    Returns:
        ``(dimension + 1, n_classes)`` weights, the last row the bias.
    """
    from scipy.optimize import minimize

    x = np.hstack([np.asarray(vectors, dtype=np.float64), np.ones((len(vectors), 1))])
    n, d = x.shape
    onehot = np.eye(n_classes)[targets]

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(d, n_classes)
        probs = _softmax(x @ w)
        value = -np.log(probs[np.arange(n), targets] + 1e-12).mean() + penalty * float((w[:-1] ** 2).sum())
        grad = x.T @ (probs - onehot) / n
        grad[:-1] += 2 * penalty * w[:-1]
        return value, grad.ravel()

    result = minimize(loss, np.zeros(d * n_classes), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return result.x.reshape(d, n_classes)


def class_index(items: list[BankItem], classes: tuple[str, ...]) -> np.ndarray:
    """Target class of each item (``none`` for look-alikes and off-topic)."""
    return np.array([classes.index(item.category) if item.is_emergency else 0 for item in items])


def validation_folds(items: list[BankItem]) -> np.ndarray:
    """The fold of each row when choosing: its style; the routine rows dealt round into
    :data:`ROUTINE_FOLDS` folds of their own (see "Everyday questions"), the near-miss pairs into
    :data:`ROUTINE_FOLDS` folds by category, so both rows of a pair are held out together (see
    "Near misses")."""
    folds = [item.style for item in items]
    routine = [n for n, item in enumerate(items) if item.style == ROUTINE_STYLE]
    for dealt, row in enumerate(routine):
        folds[row] = f"{ROUTINE_STYLE}-{dealt % ROUTINE_FOLDS}"
    categories = {kind: number for number, kind in enumerate(EMERGENCY_KINDS)}
    for row, item in enumerate(items):
        if item.style == NEAR_MISS_STYLE:
            folds[row] = f"{NEAR_MISS_STYLE}-{categories.get(item.category, 0) % ROUTINE_FOLDS}"
    return np.array(folds)


def learned_flags(p_emergency: np.ndarray, calm: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Which questions the learned half flags: at the threshold (one, or one per question) unless calmly
    framed, and at :data:`CONFIDENT` whatever the framing (see "A confident reading outranks the
    framing")."""
    return (p_emergency >= threshold) & (~calm | (p_emergency >= CONFIDENT))


def question_thresholds(
    probs: np.ndarray, classes: Sequence[str], threshold: float, critical_threshold: float
) -> np.ndarray:
    """The threshold each question is read at: ``critical_threshold`` when its most probable emergency
    is one of :data:`CRITICAL_KINDS`, else ``threshold`` (see "Two thresholds")."""
    critical = np.isin(np.asarray(classes)[np.argmax(probs[:, 1:], axis=1) + 1], CRITICAL_KINDS)
    return np.where(critical, min(threshold, critical_threshold), threshold)


def _choose(
    held_out: np.ndarray,
    classes: Sequence[str],
    rows: tuple[np.ndarray, ...],
    cap: float,
    critical: float | None,
) -> tuple[tuple[float, float], float, float, float]:
    """The threshold with the best held-out recall of rules + learned whose false alarms stay under
    ``cap`` (ties: fewer false alarms), the critical categories read at ``critical`` (``None``: at the
    same threshold). Returns (score, threshold, recall, false-alarm rate)."""
    calm, rules, emergency, dev = rows
    best: tuple[tuple[float, float], float, float, float] | None = None
    for threshold in THRESHOLDS:
        at = question_thresholds(held_out, classes, threshold, threshold if critical is None else critical)
        flags = learned_flags(1.0 - held_out[:, 0], calm, at) | rules
        recall = float(flags[dev & emergency].mean())
        false_alarms = float(flags[dev & ~emergency].mean())
        score = (recall, -false_alarms) if false_alarms <= cap else (-1.0, 0.0)
        if best is None or score > best[0]:
            best = (score, threshold, recall, false_alarms)
    assert best is not None
    return best


def fit(vectors: np.ndarray, items: list[BankItem], fingerprint: str) -> tuple[EmergencyModel, str]:
    """Fit on the dev rows, choosing the penalty and threshold by leave-one-style-out on dev.

    Args:
        vectors: base-model embeddings of ``items``.
        items: the whole bank (test rows are ignored).
        fingerprint: the bank's fingerprint, stored in the model.

    Returns:
        The model and a report of the choice.
    """
    classes = (NONE, *EMERGENCY_KINDS)
    read = features([item.text for item in items], vectors)
    dev = np.array([item.split == "dev" for item in items])
    targets = class_index(items, classes)
    emergency = np.array([item.is_emergency for item in items])
    calm = np.array([calm_framing(item.text) for item in items])
    rules = np.array([match_rules(item.text) is not None for item in items])
    folds = validation_folds(items)
    # (score, penalty, threshold, critical threshold) of the best penalty so far
    best: tuple[tuple[float, float], float, float, float] | None = None
    lines = []
    for penalty in PENALTIES:
        held_out = np.zeros((len(items), len(classes)))
        for fold in sorted(set(folds[dev])):
            train = dev & (folds != fold)
            test = dev & (folds == fold)
            weights = fit_weights(read[train], targets[train], len(classes), penalty)
            held_out[test] = _softmax(np.hstack([read[test], np.ones((test.sum(), 1))]) @ weights)
        rows = (calm, rules, emergency, dev)
        _, critical, recall, false_alarms = _choose(held_out, classes, rows, CRITICAL_MAX_FALSE_ALARMS, None)
        lines.append(
            f"penalty {penalty:g}, recall first ({CRITICAL_MAX_FALSE_ALARMS:.0%} cap): threshold {critical:.2f}, "
            f"leave-one-style-out recall {recall:.3f}, false alarms {false_alarms:.3f}"
        )
        score, threshold, recall, false_alarms = _choose(held_out, classes, rows, MAX_FALSE_ALARMS, critical)
        lines.append(
            f"penalty {penalty:g}, {MAX_FALSE_ALARMS:.0%} cap, {' and '.join(CRITICAL_KINDS)} at {critical:.2f}: "
            f"threshold {threshold:.2f}, leave-one-style-out recall {recall:.3f}, false alarms {false_alarms:.3f}"
        )
        if best is None or score > best[0]:
            best = (score, penalty, threshold, critical)
    assert best is not None
    _, penalty, threshold, critical = best
    weights = fit_weights(read[dev], targets[dev], len(classes), penalty)
    exemplar_rows = np.flatnonzero(dev & emergency)
    model = EmergencyModel(
        classes=classes,
        weights=weights,
        threshold=threshold,
        critical_threshold=critical,
        penalty=penalty,
        exemplars=vectors[exemplar_rows],
        exemplar_rows=exemplar_rows,
        fingerprint=fingerprint,
    )
    chosen = f"chosen: penalty {penalty:g}, threshold {threshold:.2f}, critical threshold {model.critical_threshold:.2f}"
    return model, "\n".join([*lines, chosen])


_model_lock = threading.Lock()


@lru_cache(maxsize=1)
def _loaded(path: Path, mtime: float) -> EmergencyModel | None:
    try:
        model = EmergencyModel.load(path)
    except (OSError, ValueError, KeyError) as error:
        logger.warning("emergency model %s unreadable (%s): rules only", path, error)
        return None
    if model.fingerprint != bank_fingerprint():
        logger.warning(
            "emergency model %s was fitted on another bank: run python -m medqa.safety.learned", path
        )
    return model


def get_model(path: Path = MODEL_PATH) -> EmergencyModel | None:
    """The committed model (cached per process), or ``None`` when the file is missing (rules only)."""
    with _model_lock:
        if not path.is_file():
            logger.warning("no emergency model at %s: rules only (python -m medqa.safety.learned)", path)
            return None
        return _loaded(path, path.stat().st_mtime)


def main(argv: list[str] | None = None) -> int:
    """Fit the model from the bank and write it (``python -m medqa.safety.learned``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    arguments = parser.parse_args(argv)
    from medqa.retrieval.encoder import load_query_encoder

    started = time.perf_counter()
    items = load_bank()
    vectors = load_query_encoder(ENCODER).encode([item.text for item in items])
    embedded = time.perf_counter()
    model, report = fit(vectors, items, bank_fingerprint())
    model.save(arguments.out)
    print(report)
    print(
        f"wrote {arguments.out} ({len(items)} rows embedded in {embedded - started:.0f} s, "
        f"fitted in {time.perf_counter() - embedded:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
