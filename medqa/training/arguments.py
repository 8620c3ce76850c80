"""Hyperparameters of a training run and the named presets.

Two presets:

* ``original`` reproduces the original AutoTrain "ST question answering" run: MultipleNegativesRankingLoss
  on (question, answer) pairs of the curated train split, adamw_torch, linear schedule, batch 8,
  3 epochs, gradient accumulation 1, lr 5e-5, max_seq_length 128.
* ``recommended`` is the recipe measured by ``bench/bench_compare.py`` to beat the base model on both the
  curated held-out split and the consumer-style questions over the full corpus (see
  ``bench/results/recipe_experiments.txt`` for the experiments behind it).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from medqa.errors import TrainingError

ORIGINAL = "original"
RECOMMENDED = "recommended"
CUSTOM = "custom"

LOSSES = ("mnrl", "cached_mnrl")
BATCH_SAMPLERS = ("batch_sampler", "no_duplicates", "length_grouped")
#: What the distillation term keeps near the starting model: a sample of corpus texts, or the batch's texts.
DISTILL_ON = ("sample", "batch")
PRECISIONS = ("auto", "fp32", "bf16")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "sgd", "adafactor")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
EVALUATION = ("epoch", "end", "none")
#: Query sides a training pair may have (see :mod:`medqa.training.data`).
QUERY_VARIANTS = ("question", "keywords", "synonym", "focus", "description")
#: What the answer side of a question, keywords or synonym pair is: the raw answer, or the text the Ask
#: index embeds for it (``"<focus>: <first ~100-word passage>"``).
POSITIVES = ("answer", "passage")
#: At most this many lower transformer layers may be frozen (all-MiniLM-L6-v2 has 6; one stays trainable).
MAX_FROZEN_LAYERS = 5


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides what a training run does (saved in ``run.json``).

    Attributes:
        preset: name of the preset these values started from (``custom`` once edited by hand).
        data: ``curated``, ``full``, a stored dataset's name or a path to a CSV file.
        base_model: model to start from: ``base``, a trained run's name, a folder or a Hub id.
        epochs: passes over the training pairs.
        max_steps: stop after this many optimizer steps (``-1``: run all epochs).
        batch_size: pairs per step (also the number of in-batch negatives + 1).
        gradient_accumulation_steps: steps whose gradients are summed before an update.
        learning_rate: peak learning rate.
        optimizer: ``transformers`` optimizer name.
        lr_scheduler: ``transformers`` scheduler name.
        warmup_ratio: share of the steps spent warming the learning rate up.
        weight_decay: AdamW weight decay.
        max_seq_length: tokens kept per text while training.
        loss: ``mnrl`` (MultipleNegativesRankingLoss) or ``cached_mnrl`` (GradCache, big batches in
            small memory).
        mini_batch_size: chunk size of ``cached_mnrl``.
        batch_sampler: ``no_duplicates`` keeps a text from appearing twice in a batch (a duplicate would be
            a false in-batch negative); ``length_grouped`` also groups pairs of similar length into a
            batch (less padding: see :mod:`medqa.training.batching`).
        query_variants: what the query side of a pair is: the MedQuAD ``question``; ``keywords`` (the
            question with its template words removed: "gout treatment"); ``synonym`` (the question
            with the focus replaced by one of its XML synonyms); ``focus`` (the focus name alone);
            ``description`` (a sentence of the answer with the focus masked, paired with the pair's
            ``"<focus>: <question>"`` search text).
        positives: the answer side of ``question``, ``keywords`` and ``synonym`` pairs: the ``answer``
            (cut at ``max_seq_length``), or its first ``passage`` in the shape the Ask index embeds it
            (``"<focus>: <about 100 words>"``, :func:`medqa.retrieval.dense.document_units`).
        sources: train only on pairs from these MedQuAD sources (``MPlusHealthTopics``, ``NIDDK``...;
            empty: all). Held-out pairs stay out either way.
        description_target: what a ``description`` query points at: its pair's ``question`` entry
            (``"<focus>: <question>"``), or the ``overview``: the first passage of the focus area's
            "information" answer as the index embeds it (a symptom described -> the condition's overview),
            when the area has one.
        hard_negatives: add to every pair one hard negative mined with the starting model: the training
            passage it ranks highest for the anchor among those about another concept (no shared UMLS
            CUI or focus name; see :mod:`medqa.training.negatives`).
        descriptions_per_pair: ``description`` queries per source pair.
        description_sentences: consecutive sentences of the answer joined into one ``description``
            query (up to :data:`medqa.training.data.JOINED_DESCRIPTION_WORDS` words): several signs
            described at once, as people write them (``1``: one sentence per query).
        description_pairs: source pairs the ``description`` variant draws from, sampled apart from
            ``max_pairs`` (its pairs are short and cheap); ``0``: the same pairs as the other variants.
        max_pairs: keep at most this many training pairs (a seeded sample spread over focus areas).
        max_pairs_per_focus: keep at most this many pairs per focus area (``0``: no cap).
        distill_weight: weight of the anti-forgetting term, an MSE between the model's embeddings and
            the frozen base model's on a sample of corpus texts (``0``: off).
        distill_texts: how many texts that term uses (``distill_on="sample"``).
        distill_on: ``sample``: the term embeds ``distill_texts`` extra corpus texts at every step;
            ``batch``: it compares the embeddings the ranking loss already computed for the batch's
            anchors and positives with the starting model's, computed once before the first step (no
            extra forward pass; see :mod:`medqa.training.trainer`).
        freeze_embeddings: keep the word-embedding table (about half of MiniLM's parameters) fixed:
            no gradient or optimizer state for it.
        freeze_layers: also keep the whole embedding block and the first this many transformer layers
            fixed (``0``: none): the backward pass stops above them, so a step costs less arithmetic.
        gradient_checkpointing: recompute activations in the backward pass instead of keeping them
            (less memory, about a third more arithmetic).
        dropout: the dropout rate while training (``None``: the starting model's own, 0.1 for
            all-MiniLM-L6-v2; ``0``: none, which makes a CPU step about a quarter faster: see
            :mod:`medqa.training.dropout`).
        merge_with_base: after training, average the weights with the base model's; the share kept
            from the base model (``0``: none, ``0.5``: half way, as in WiSE-FT).
        seed: seeds the sampling, shuffling and initialisation.
        precision: ``fp32``, ``bf16`` (autocast) or ``auto`` (bf16 only on a CPU with native bf16).
        evaluation: held-out evaluation after every ``epoch``, only at the ``end`` or ``none``.
        eval_baseline: also evaluate before the first step (the base model's score on the chart).
    """

    preset: str = ORIGINAL
    data: str = "curated"
    base_model: str = "base"
    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    optimizer: str = "adamw_torch"
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_seq_length: int = 128
    loss: str = "mnrl"
    mini_batch_size: int = 32
    batch_sampler: str = "batch_sampler"
    query_variants: tuple[str, ...] = ("question",)
    positives: str = "answer"
    sources: tuple[str, ...] = ()
    description_target: str = "question"
    hard_negatives: bool = False
    descriptions_per_pair: int = 1
    description_sentences: int = 1
    description_pairs: int = 0
    max_pairs: int = 0
    max_pairs_per_focus: int = 0
    distill_weight: float = 0.0
    distill_texts: int = 0
    distill_on: str = "sample"
    freeze_embeddings: bool = False
    freeze_layers: int = 0
    gradient_checkpointing: bool = False
    dropout: float | None = None
    merge_with_base: float = 0.0
    seed: int = 42
    precision: str = "auto"
    evaluation: str = "epoch"
    eval_baseline: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.data or not str(self.data).strip():
            problems.append("choose the training data")
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("epochs must be above 0 (or set max_steps)")
        if self.batch_size < 2:
            problems.append("batch size must be at least 2 (the other pairs of a batch are the negatives)")
        if self.gradient_accumulation_steps < 1:
            problems.append("gradient accumulation must be at least 1")
        if not 0 < self.learning_rate < 1:
            problems.append("learning rate must be between 0 and 1")
        if not 0 <= self.warmup_ratio < 1:
            problems.append("warmup ratio must be in [0, 1)")
        if not 8 <= self.max_seq_length <= 512:
            problems.append("max_seq_length must be between 8 and 512")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}")
        if self.mini_batch_size < 1:
            problems.append("mini batch size must be at least 1")
        if self.descriptions_per_pair < 1:
            problems.append("descriptions per pair must be at least 1")
        if self.description_sentences < 1:
            problems.append("sentences per description must be at least 1")
        if self.description_pairs < 0:
            problems.append("description pairs must be 0 or more")
        if self.batch_sampler not in BATCH_SAMPLERS:
            problems.append(f"batch sampler must be one of {', '.join(BATCH_SAMPLERS)}")
        if self.description_target not in ("question", "overview"):
            problems.append("description_target must be question or overview")
        if self.positives not in POSITIVES:
            problems.append(f"positives must be one of {', '.join(POSITIVES)}")
        if not self.query_variants or any(v not in QUERY_VARIANTS for v in self.query_variants):
            problems.append(f"query variants must be some of {', '.join(QUERY_VARIANTS)}")
        if self.max_pairs < 0 or self.max_pairs_per_focus < 0:
            problems.append("pair caps cannot be negative")
        if self.distill_weight < 0 or self.distill_texts < 0:
            problems.append("distillation weight and texts cannot be negative")
        if self.distill_on not in DISTILL_ON:
            problems.append(f"distill_on must be one of {', '.join(DISTILL_ON)}")
        if self.distill_weight > 0 and self.distill_on == "sample" and self.distill_texts == 0:
            problems.append("distillation on a sample needs distill_texts > 0")
        if not 0 <= self.freeze_layers <= MAX_FROZEN_LAYERS:
            problems.append(f"frozen layers must be between 0 and {MAX_FROZEN_LAYERS}")
        if self.dropout is not None and not (math.isfinite(float(self.dropout)) and 0 <= self.dropout < 1):
            problems.append("dropout must be in [0, 1) (or empty: the starting model's)")
        if not 0 <= self.merge_with_base < 1:
            problems.append("merge_with_base must be in [0, 1)")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.lr_scheduler not in SCHEDULERS:
            problems.append(f"scheduler must be one of {', '.join(SCHEDULERS)}")
        if self.evaluation not in EVALUATION:
            problems.append(f"evaluation must be one of {', '.join(EVALUATION)}")
        numbers = {
            name: getattr(self, name)
            for name in ("epochs", "learning_rate", "warmup_ratio", "distill_weight")
        }
        infinite = [name for name, value in numbers.items() if not math.isfinite(float(value))]
        if infinite:  # inf passed every check above, nan most of them
            problems.append(f"{', '.join(infinite)} must be finite (not inf or nan)")
        if not 0 <= self.seed < 2**32:
            problems.append("seed must be between 0 and 4294967295")
        if problems:
            raise TrainingError("Invalid training settings: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (tuples become lists)."""
        payload = asdict(self)
        payload["query_variants"] = list(self.query_variants)
        payload["sources"] = list(self.sources)
        return payload

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> TrainingConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in payload.items() if key in known}
        for name in ("query_variants", "sources"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> TrainingConfig:
        """A copy with some values changed; marks the preset ``custom`` when a value really changes."""
        changed = {key: value for key, value in overrides.items() if value is not None}
        unknown = set(changed) - {f.name for f in fields(self)}
        if unknown:
            raise TrainingError(f"Unknown training settings: {', '.join(sorted(unknown))}.")
        for name in ("query_variants", "sources"):
            if name in changed:
                changed[name] = tuple(changed[name])
        differs = any(
            getattr(self, key) != value for key, value in changed.items() if key not in ("data", "preset")
        )
        updated = replace(self, **changed)
        if differs and "preset" not in changed:
            updated = replace(updated, preset=CUSTOM)
        return updated


#: The original AutoTrain recipe on the curated train split.
ORIGINAL_CONFIG = TrainingConfig()

#: Best measured recipe (bench/experiments_recipe.py, bench/results/recipe_experiments.txt): 500 pairs
#: from full MedQuAD minus held-out, spread over focus areas, each as question + keywords + synonym
#: query; plus "description" pairs from 4000 other pairs (a sentence of the answer with the condition's
#: name masked -> the "<focus>: <question>" entry the Ask engine indexes), which teach the model to go
#: from what people describe to the condition; duplicate-free batches of 32; one epoch at lr 2e-5;
#: MSE to the base embeddings against forgetting. Held-out MRR@10 0.505 -> 0.551; consumer questions
#: (full corpus, focus-judged) MRR@10 0.862 -> 0.885 (not significant at 95 questions).
#: Since 2026-11-29 the same data trains with the speed and memory levers of bench/bench_train.py:
#: length-grouped batches (2.2x fewer padded tokens), the distillation term on the batch's own texts
#: against targets embedded once (no extra 32 x 128-token pass per step), frozen word embeddings
#: (11.7 M of 22.7 M parameters: no gradient or Adam state) and gradient checkpointing (activations of
#: one layer at a time); figures in bench/results/train.txt.
#: Since the Ask index embeds answer passages (2026-11-29, second session), the answer side of the
#: question / keywords / synonym pairs is the passage as the index embeds it (``positives="passage"``),
#: and a described symptom points at its condition's overview passage (``description_target="overview"``).
#: Measured in the Ask page's default pipeline (hybrid, full corpus, bench/results/quality.txt) and chosen
#: on the consumer dev half among four versions: dev Accuracy@1 / @3 0.735 / 0.898 against base 0.741 /
#: 0.867 (dense alone 0.735 / 0.861 against 0.699 / 0.831, the first version whose embeddings rank
#: consumer questions better than the base model's); test half 0.700 / 0.835 against 0.700 / 0.812 (not
#: significant); curated held-out level (hybrid MRR@10 0.458 vs 0.467, p = 0.55) but 5 of its 40 focus
#: areas lose more than one rank on average.
#: Since 2026-11-29 (third session) every pair also carries one hard negative mined with the starting
#: model among the training passages about another concept (``hard_negatives``, no shared CUI or focus;
#: :mod:`medqa.training.negatives`). Dev: tied with the version above on the mean of Accuracy@1 and @3
#: (0.747 / 0.886 against 0.735 / 0.898, 271 of 332 each), ahead on MRR@10 (0.826 vs 0.820, the tie-break)
#: and dense alone (0.753 vs 0.735 right topic first); test half MRR@10 0.797 against the base model's
#: 0.770 (+0.028, 95% CI +0.01 to +0.05, p = 0.023; Accuracy@1 / @3 +0.024 / +0.029, not significant);
#: curated held-out level (hybrid MRR@10 0.461 vs 0.467, p = 0.73).
#: The third text per pair raised the training child's peak to 3.37 GB, so the preset trains with cached
#: MNRL (GradCache: the batch of 32 embedded 8 rows at a time, the same loss, with the batch distillation
#: on the cached embeddings) instead of gradient checkpointing: 771 s and 2.01 GB peak RSS against 760 s
#: and 3.37 GB, and the same Ask-pipeline quality (dev 0.747 / 0.886, test MRR@10 0.796 vs 0.770, p = 0.020).
#: Since 2026-11-30 oneDNN's primitive cache is capped (:data:`medqa.models.ONEDNN_CACHE_CAPACITY`): the
#: same run peaks at 1.58 GB in 750 s (bench/results/train.txt).
#: Since 2026-11-30 (fourth session) GradCache embeds 4 rows at a time instead of 8: the same loss (up to
#: dropout's random draws), measured over 6 steps at a peak of 1,263 MB instead of 1,378 MB and 6.19
#: instead of 6.47 samples/s (gradient checkpointing on top: 1,195 MB but 4.53 samples/s, not taken).
#: Since 2026-11-30 (seventh session) the preset trains without hard negatives and with the embedding
#: block and the first 3 of the 6 transformer layers frozen (``freeze_layers=3``: the backward pass
#: stops at layer 4). On the consumer dev half in the Ask pipeline the three recipes tie: the preset with
#: hard negatives 0.766 / 0.898 (MRR@10 0.838), without them 0.761 / 0.904 (0.838), without them and with
#: 3 layers frozen 0.761 / 0.904 (0.834), 328 of 394 first-and-top-3 hits each; the cheapest was taken:
#: 383 s and a 1,379 MB peak against 771 s and 1,415 MB (without hard negatives alone: 497 s). Test half,
#: reported once: 0.729 / 0.854, MRR@10 0.801 against the base model's 0.698 / 0.819 / 0.767 (MRR@10
#: +0.033 [+0.02, +0.05] p < 0.001, top 3 +0.035 p = 0.017, right topic first +0.030 p = 0.07; the
#: previous preset: 0.724 / 0.854 / 0.796); curated held-out hybrid MRR@10 0.465 against 0.464
#: (p = 0.97), 4 of 40 focus areas more than one rank worse (3 before). Also measured then: the same at
#: lr 4e-5 (`rec-fl3-lr4`): dev 0.772 / 0.893 (MRR@10 0.840), the same 328 hits, but held-out 0.459 with
#: 5 of 40 areas worse: not taken (its test half was not looked at).
#: Measured on 2026-11-30 (eighth session) and not taken: the same preset with plain MNRL instead of
#: cached MNRL (the same loss without GradCache's second forward pass) peaked at 2.04 GB RSS in fp32
#: before it was stopped, against 1.08 GB: over the 1.5 GB a training may take next to the server.
#: Learning rates 4e-5 and 6e-5 (2026-11-30, fifth session) led on the consumer dev half in the Ask
#: pipeline (Accuracy@1 0.807 and 0.801 against 0.783) but lose on the curated held-out split: hybrid
#: MRR@10 0.430 and 0.427 against the base model's 0.464 (p = 0.07 and 0.05) with 9 and 12 of its 40
#: focus areas more than one rank worse, against 3 for 2e-5 (0.455, p = 0.55): 2e-5 kept. (First
#: measured as 0.410, p = 0.013, through an evaluation view that hid every focus from the specialist
#: re-ranking; corrected in the sixth session.) Also then: 4e-5 with distillation weight 2 (`rec-lr4d2`):
#: dev 0.777 / 0.898 against 0.766 / 0.898 on the grown dev half, held-out 0.450 (p = 0.45) but 8 of 40
#: areas worse: not taken.
#: Measured on 2026-12-01 (tenth session) and not taken: the preset's run merged with the base weights
#: (``merge_with_base`` 0.3 / 0.5): consumer dev half in the Ask pipeline 0.772 / 0.782 right topic
#: first against 0.761, test half 0.729 / 0.729 against 0.734 and top 3 0.849 / 0.839 against 0.854;
#: curated held-out areas more than one rank worse 3 / 3 against 4 (bench/results/wise_ft.txt). A tie
#: pooled over both halves; the preset keeps the significant test-half top-3 gain.
#: Since 2026-12-01 (eleventh session) GradCache's second pass starts above the 3 frozen layers
#: (:mod:`medqa.training.freezing`): the same gradients bit for bit, a sixth less arithmetic per step.
#: Since 2026-12-01 (thirteenth session) GradCache embeds 8 rows at a time again: with 3 layers frozen
#: and the distillation on the batch the larger mini-batch no longer costs the memory it did in the
#: fourth session. Measured over 24 steps in a child process (AMD Zen 5, 2 cores; /tmp probes, several
#: runs each): bf16 1.37-1.49 s per step with 4 rows, 1.29-1.33 with 8, 1.20-1.24 with 16; fp32 2.14-2.34,
#: 2.03-2.32 and 2.24-2.29 (within the noise); training peaks 0.92-1.04 GB, 1.04-1.11 GB and 1.25-1.30 GB.
#: 16 rows would leave too little of the 1.5 GB a training may take (the whole run peaks some 0.1-0.3 GB
#: above these probes), so 8. Whole runs: fp32 back to back (teacher cached) 290 s of training with 8 rows
#: against 305 s with 4, peaks 1,077 and 1,040 MB; bf16 (``bench/results/train_bf16_zen5_mb8.txt``) 162 s
#: of training and 199 s wall against 174 s and 208 s, peak 1,322 MB. The loss is the same (up to
#: dropout's random draws; held-out dense MRR@10 0.494 against 0.491).
#: Measured on 2026-12-01 (fifteenth session) and not taken: the preset's pairs drawn from the sources
#: written for the public only (``sources``: MedlinePlus, NIDDK, NINDS, NIHSeniorHealth, CancerGov,
#: NHLBI, CDC; GHR and GARD, 73% of the focus areas the round-robin draws from, left out), since none of
#: the consumer questions' topics is found only in GHR or GARD. Consumer dev half in the Ask pipeline:
#: 0.807 / 0.919, MRR@10 0.859, against 0.751 / 0.919 / 0.837 for the preset and 0.766 / 0.914 / 0.840
#: for the base model (4,997 pairs instead of 3,973: 253 s instead of 196 s in bf16); with distillation
#: weight 2, 0.797 / 0.914; only the descriptions from those sources, 0.772 / 0.914; only the question,
#: keyword and synonym pairs, 0.777 / 0.909. But the curated held-out split lost (hybrid MRR@10 0.438
#: against 0.464, 8 of 40 areas more than one rank worse; 0.440 and 6 with weight 2), and the test half,
#: scored once for the dev half's best, did not follow: 0.734 / 0.869 / 0.805 against the preset's 0.754
#: / 0.884 / 0.824 (base 0.709 / 0.859 / 0.790). The dev half's lead was its own, as with passage length.
#: Since 2026-12-01 (sixteenth session) the preset trains without dropout (``dropout=0``,
#: :mod:`medqa.training.dropout`): on a CPU dropout is overhead (element-wise random masks, and no fused
#: attention kernel in training), about a quarter of a step: 16-step probes in fp32 (AMD Zen 5, 2 cores)
#: 2.35-2.48 s per step with it and 1.66-1.95 without; whole bf16 runs 160 s of training (the reference
#: run) against 117 s. Quality, two seeds each (42, the preset's, and 7), Ask pipeline: consumer dev half
#: 0.751 / 0.919 / 0.837 and 0.772 / 0.914 / 0.843 with dropout, 0.761 / 0.914 / 0.839 and 0.766 / 0.909 /
#: 0.841 without (Accuracy@1 / @3 / MRR@10; base 0.766 / 0.914 / 0.840); curated held-out split hybrid
#: MRR@10 0.468 and 0.466 with it, 0.457 and 0.467 without (base 0.464), areas more than one rank worse 4
#: and 3 against 4 and 4. The test half, read once for seed 42: 0.749 / 0.889 / 0.821 without dropout
#: against 0.754 / 0.884 / 0.824 with it and the base model's 0.709 / 0.859 / 0.790; against the base
#: model +0.040 (p = 0.02), +0.030 (p = 0.03) and +0.031 (p < 0.001), where the run with dropout had
#: +0.045 (p = 0.01), +0.025 (p = 0.13) and +0.034 (p < 0.001).
#: Measured on 2026-12-01 (seventeenth session) and not taken: more description pairs (``description_pairs``
#: 8,000 and 12,000 instead of 4,000: 7,091 and 10,297 training pairs, 222 and 322 steps, 224 s and 273 s in
#: bf16 without the held-out evaluation, where the preset takes 155 s with it). Consumer dev half in the Ask
#: pipeline 0.761 / 0.919 / 0.841 and 0.766 / 0.909 / 0.840 against the preset's 0.761 / 0.914 / 0.839 (seed
#: 7: 0.766 / 0.909 / 0.841) and the base model's 0.766 / 0.914 / 0.840; dense alone 0.726 / 0.863 and 0.721
#: / 0.858 against 0.706 / 0.858 (0.716 / 0.863); curated held-out hybrid MRR@10 0.464 and 0.453 against
#: 0.457 (base 0.464), 4 and 6 of 40 areas more than one rank worse. More of the same data moves dense
#: retrieval a little and the Ask pipeline not at all, for up to twice the training time.
#: Measured on 2026-12-02 (twenty-second session) and not taken: description queries of up to three
#: consecutive sentences (``description_sentences=3``, at most 60 words: several signs at once, as people
#: describe them; the same 3,973 pairs otherwise, 131 s of training in bf16). Consumer dev half in the Ask
#: pipeline 0.782 / 0.914 / 0.851 (seed 42) and 0.807 / 0.914 / 0.861 (seed 7) against the preset's 0.766 /
#: 0.919 / 0.843 and 0.772 / 0.914 / 0.845 (base 0.772 / 0.919 / 0.844), the gain in the questions that
#: describe without naming (0.656 and 0.699 right topic first against 0.634 and 0.634); five sentences
#: (90 words) 0.787 / 0.914 / 0.853; curated held-out hybrid MRR@10 0.457 and 0.460 (preset 0.457 and
#: 0.467), 1 and 0 of 40 areas more than one rank worse with ranks past 10 counted as 11. The test half,
#: read once for seed 42 (``rec-join3-code`` in ``bench/results/quality_joined.txt``): 0.734 / 0.879 /
#: 0.811 against the preset's 0.749 / 0.889 / 0.821 and the base model's 0.709 / 0.859 / 0.790, only
#: MRR@10 significantly above the base model's (+0.021, p = 0.004; +0.025 and +0.020 at p = 0.13). Over
#: both halves it ties the preset; the dev half's lead was its own.
RECOMMENDED_CONFIG = TrainingConfig(
    preset=RECOMMENDED,
    data="full",
    max_pairs=500,
    positives="passage",
    description_target="overview",
    query_variants=("question", "keywords", "synonym", "description"),
    description_pairs=4000,
    batch_size=32,
    epochs=1.0,
    learning_rate=2e-5,
    batch_sampler="length_grouped",
    distill_weight=1.0,
    distill_on="batch",
    freeze_embeddings=True,
    freeze_layers=3,
    loss="cached_mnrl",
    mini_batch_size=8,
    dropout=0.0,
)

PRESETS: dict[str, TrainingConfig] = {ORIGINAL: ORIGINAL_CONFIG, RECOMMENDED: RECOMMENDED_CONFIG}

#: One-line descriptions shown in pickers.
PRESET_DESCRIPTIONS = {
    ORIGINAL: (
        "The original AutoTrain recipe: the 400 curated training pairs, 3 epochs in batches of 8 at lr 5e-5 "
        "(about 4 minutes on 2 cores)."
    ),
    RECOMMENDED: (
        "4,000 varied full-MedQuAD pairs: questions, keywords and synonyms matched to the answer passages "
        "the search index holds, and answer sentences describing a condition matched to its overview; one "
        "epoch training the top 3 of the 6 layers without dropout, kept close to the base model (measured on "
        "2 cores: about 3 minutes with native bf16, 5 to 12 without, depending on the CPU, a little less when "
        "run again; the training process peaks at about 1.4 GB)."
    ),
}


def preset(name: str, **overrides: Any) -> TrainingConfig:
    """A preset's config, optionally with some values changed.

    Raises:
        TrainingError: the preset does not exist or an override is invalid.
    """
    if name not in PRESETS:
        raise TrainingError(f"Unknown preset {name!r}: choose one of {', '.join(PRESETS)}.")
    return PRESETS[name].with_overrides(**overrides)


def config_from_file(path: str | Path) -> TrainingConfig:
    """The config in a JSON file: a config object, or a ``run.json`` (its ``config``).

    Raises:
        TrainingError: the file is missing, not JSON, or not a valid config.
    """
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise TrainingError(f"Cannot read the training config {str(path)!r}: {error}") from None
    if isinstance(payload, dict) and isinstance(payload.get("config"), dict):
        payload = payload["config"]
    if not isinstance(payload, dict):
        raise TrainingError(f"The training config {str(path)!r} is not a JSON object.")
    try:
        return TrainingConfig.from_dict(payload)
    except TypeError as error:
        raise TrainingError(f"The training config {str(path)!r} has a wrong value: {error}") from None


def field_names() -> list[str]:
    """Names of every setting, in declaration order."""
    return [f.name for f in dataclasses.fields(TrainingConfig)]
