"""Search for the "recommended" fine-tuning recipe: every variant tried, scored like the app scores it.

Each variant is a :class:`~medqa.training.arguments.TrainingConfig` (plus, for a few, a change to the
training pairs the config cannot express yet, marked ``extra``), trained through
:func:`medqa.training.trainer.train` and then scored on:

* **held-out**: the curated test split (120 questions) searched in the curated corpus represented by its
  answer text only, exactly as :mod:`medqa.evaluation.runner` judges answer-judged sets
  (:func:`medqa.evaluation.sets.heldout`);
* **consumer**: the 95 plain-language questions searched in the full corpus represented as the Ask
  engine indexes it (``"<focus>: <question>"``, max_seq_length 256), judged by expected focus area
  (:func:`medqa.evaluation.sets.consumer`). The questions are split in two fixed halves by focus group
  (seeded): the recipe is *chosen* on ``sel`` only; ``rep`` and ``all`` are reported, never used to
  choose.

Dense ranking is the cosine over fp32 embeddings (as the app's query encoder); hybrid is the engine's
reciprocal-rank fusion of the dense top 100 and the BM25 top 100 (same fields and constants).

Usage (heavy steps take /tmp/medqa-cpu.lock one variant at a time, so other jobs can interleave)::

    MEDQA_DATA_DIR=... MEDQA_MEDQUAD_SOURCE=.../MedQuAD-master.zip \
        .venv/bin/python bench/experiments_recipe.py [--only NAME,NAME] [--work DIR]

Finished variants are cached as JSON under ``--work`` (results/) so the table can be re-printed or
extended; the table is written to ``bench/results/recipe_experiments.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medqa.data import schema as col
from medqa.data import store
from medqa.evaluation import sets
from medqa.evaluation.metrics import per_query_metrics
from medqa.training.arguments import ORIGINAL_CONFIG, TrainingConfig

LOCK = "/tmp/medqa-cpu.lock"
DEPTH = 100
RRF_K = 60
RESULT_FILE = ROOT / "bench" / "results" / "recipe_experiments.txt"
METRICS = ("accuracy@1", "accuracy@3", "mrr@10")


@contextlib.contextmanager
def cpu_lock() -> Iterator[None]:
    """Hold the shared CPU lock (the same one ``flock /tmp/medqa-cpu.lock`` takes)."""
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Variant:
    """One experiment: a training config (``None``: the base model), or a merge of a trained variant.

    Attributes:
        name: short label in the table.
        config: the training config; ``None`` for the base model or a merge.
        extra: a change to the training pairs the config cannot express (see :func:`extra_pairs`).
        merge_of: ``(variant name, share kept from base)``: WiSE-FT of an already trained variant.
        note: what the variant tests.
    """

    name: str
    config: TrainingConfig | None = None
    extra: str = ""
    merge_of: tuple[str, float] | None = None
    note: str = ""
    tags: tuple[str, ...] = field(default=())


def recipe(**values: Any) -> TrainingConfig:
    """A config for a recipe experiment: full MedQuAD minus held-out, no in-run evaluation."""
    base = {
        "data": "full",
        "batch_size": 32,
        "epochs": 1.0,
        "learning_rate": 2e-5,
        "batch_sampler": "no_duplicates",
        "evaluation": "none",
        "eval_baseline": False,
        "precision": "auto",
    }
    base.update(values)
    return TrainingConfig(preset="custom", **base)


def distilled(**values: Any) -> TrainingConfig:
    """A recipe with the distillation term against forgetting (MSE to base embeddings of 1000 texts)."""
    return recipe(distill_weight=1.0, distill_texts=1000, **values)


QKS = ("question", "keywords", "synonym")
QKSD = (*QKS, "description")

VARIANTS: tuple[Variant, ...] = (
    Variant("base", note="all-MiniLM-L6-v2, no training"),
    Variant(
        "original",
        ORIGINAL_CONFIG.with_overrides(evaluation="none", eval_baseline=False),
        note="original AutoTrain recipe: curated 400 pairs, MNRL b8, 3 ep, lr 5e-5",
    ),
    Variant(
        "full2k-q",
        recipe(max_pairs=2000),
        note="2000 full-MedQuAD pairs spread over focus areas, question only, b32 no-dup, 1 ep, lr 2e-5",
    ),
    Variant(
        "q500-qks",
        recipe(max_pairs=500, query_variants=QKS),
        note="500 source pairs x (question, keywords, synonym) queries",
    ),
    Variant(
        "q500-qks-idx",
        recipe(max_pairs=500, query_variants=QKS),
        extra="index_positive",
        note="as q500-qks, but keywords/synonym queries point at the indexed '<focus>: <question>' text",
    ),
    Variant(
        "q500-qks-idx-distill",
        distilled(max_pairs=500, query_variants=QKS),
        extra="index_positive",
        note="q500-qks-idx + MSE to the base embeddings of 1000 training-pool texts (weight 1)",
    ),
    Variant(
        "q500-qks-idx-distill-m30",
        merge_of=("q500-qks-idx-distill", 0.3),
        note="q500-qks-idx-distill, weights merged with the base (share 0.3 kept from base, WiSE-FT)",
    ),
    Variant(
        "q500-qks-distill",
        distilled(max_pairs=500, query_variants=QKS),
        note="q500-qks + MSE to the base embeddings of 1000 training-pool texts (weight 1)",
    ),
    Variant(
        "q1000-qks-distill",
        distilled(max_pairs=1000, query_variants=QKS),
        note="as q500-qks-distill with 1000 source pairs (started, not finished in the session's time)",
    ),
    Variant(
        "q500-qksd-distill",
        distilled(max_pairs=500, query_variants=QKSD),
        note="q500-qks-distill + description queries (masked answer sentence -> '<focus>: <question>')",
    ),
    Variant(
        "q500-qksd-distill-m30",
        merge_of=("q500-qksd-distill", 0.3),
        note="q500-qksd-distill, weights merged with the base (share 0.3 kept from base, WiSE-FT)",
    ),
    Variant(
        "q500-qksd-distill-m50",
        merge_of=("q500-qksd-distill", 0.5),
        note="q500-qksd-distill, weights merged with the base (share 0.5 kept from base, WiSE-FT)",
    ),
    Variant(
        "q500-qks-d4000-distill",
        distilled(max_pairs=500, query_variants=QKSD, description_pairs=4000),
        note="q500-qks-distill + description queries from 4000 other source pairs (spread over focus areas)",
    ),
    Variant(
        "q1000-qksd-distill",
        distilled(max_pairs=1000, query_variants=QKSD),
        note="as q500-qksd-distill with 1000 source pairs",
    ),
    Variant(
        "q500-qksd3-distill",
        distilled(max_pairs=500, query_variants=QKSD, descriptions_per_pair=3),
        note="as q500-qksd-distill with up to 3 description sentences per source pair",
    ),
    Variant(
        "q500-qd3-distill",
        distilled(max_pairs=500, query_variants=("question", "description"), descriptions_per_pair=3),
        note="question + up to 3 description queries per source pair (no keywords/synonym)",
    ),
)


# --------------------------------------------------------------------------------------------- data


def consumer_halves(eval_set: sets.EvaluationSet) -> dict[str, np.ndarray]:
    """Row masks of the consumer set's fixed halves: ``sel`` = dev (choose), ``rep`` = test, and all.

    The halves are the question file's ``split`` column (by topic, seeded; see
    :mod:`medqa.consumer_questions`), the same ones as ``--set consumer-dev`` / ``consumer-test``.
    """
    from medqa.consumer_questions import DEV, load_consumer_questions

    questions = load_consumer_questions()
    split_of = dict(zip(questions["id"], questions["split"], strict=True))
    in_selection = np.array([split_of[query_id] == DEV for query_id in eval_set.query_ids])
    return {"sel": in_selection, "rep": ~in_selection, "all": np.ones(len(eval_set), dtype=bool)}


def extra_pairs(data: Any, kind: str) -> Any:
    """Apply a pair change the config cannot express yet (returns new TrainingData)."""
    from dataclasses import replace

    from medqa.training.data import ANCHOR, POSITIVE, fingerprint

    if kind != "index_positive":
        raise ValueError(kind)
    full = store.load_corpus(store.FULL)
    index_text = dict(
        zip(
            full[col.ANSWER].astype(str).str.strip(),
            full[col.FOCUS] + ": " + full[col.QUESTION],
            strict=False,
        )
    )
    pairs = data.pairs.copy()
    moved = pairs["variant"].isin(["keywords", "synonym"])
    # The answer text identifies the source pair; its index text becomes the positive.
    pairs.loc[moved, POSITIVE] = [
        index_text.get(answer.strip(), answer) for answer in pairs.loc[moved, POSITIVE]
    ]
    pairs = pairs.drop_duplicates([ANCHOR, POSITIVE]).reset_index(drop=True)
    summary = dict(data.summary, extra="keywords/synonym positives = '<focus>: <question>'")
    return replace(data, pairs=pairs, fingerprint=fingerprint(pairs), summary=summary)


# ----------------------------------------------------------------------------------------- scoring


class Scorer:
    """Scores a model on the held-out and consumer sets, dense and hybrid."""

    def __init__(self) -> None:
        from medqa.retrieval.bm25 import DEFAULT_FIELDS, BM25Index
        from medqa.retrieval.dense import document_texts

        self.curated = store.load_corpus(store.CURATED)
        self.full = store.load_corpus(store.FULL)
        self.heldout = sets.heldout(store.CURATED, corpus=self.curated)
        self.consumer = sets.consumer(store.FULL, corpus=self.full)
        self.halves = consumer_halves(self.consumer)
        self.heldout_docs = self.curated[col.ANSWER].astype(str).tolist()
        self.consumer_docs = document_texts(self.full, "focus_question")
        answer_view = self.curated.assign(
            **{col.QUESTION: self.curated[col.ANSWER], col.FOCUS: "", col.SYNONYMS: ""}
        )
        self.bm25 = {
            "heldout": (BM25Index(answer_view, "question"), self.heldout, self.curated),
            "consumer": (BM25Index(self.full, DEFAULT_FIELDS), self.consumer, self.full),
        }
        self.lexical = {
            name: [index.scores(query) for query in eval_set.queries]
            for name, (index, eval_set, _) in self.bm25.items()
        }

    def describe(self) -> list[str]:
        """Lines describing the sets."""
        sel, rep = int(self.halves["sel"].sum()), int(self.halves["rep"].sum())
        return [
            f"held-out: {len(self.heldout)} curated test questions vs {len(self.curated)} curated answers "
            "(answer text only)",
            f"consumer: {len(self.consumer)} questions vs {len(self.full)} full-corpus pairs as "
            f"'<focus>: <question>'; halves = the question file's dev (sel, choose) {sel} / test (rep) {rep}",
        ]

    @staticmethod
    def _ranked(
        similarities: np.ndarray, lexical: list[np.ndarray] | None, ids: list[str]
    ) -> list[list[str]]:
        from medqa.retrieval.fusion import reciprocal_rank_fusion, top_rows

        ranked = []
        for row, scores in enumerate(similarities):
            dense = top_rows(scores, DEPTH)
            if lexical is None:
                rows = dense.tolist()
            else:
                fused = reciprocal_rank_fusion(
                    [dense, top_rows(lexical[row], DEPTH, positive_only=True)], k=RRF_K
                )
                rows = [r for r, _ in fused[:DEPTH]]
            ranked.append([ids[r] for r in rows])
        return ranked

    def use_pool(self, work: Path, size: int) -> None:
        """Score consumer questions against a candidate pool instead of the whole corpus (screening only).

        The pool holds, for every consumer question, the base model's dense top ``size``, the BM25 top
        100 and every relevant pair. A fine-tuned model's ranks are exact unless a pair outside the pool
        enters its top 10; :func:`main` checks this against full scoring of chosen variants.
        """
        from medqa import models

        cache = work / "base_consumer_docs.npy"
        if cache.exists():
            doc_vectors = np.load(cache)
        else:
            model = models.load_model("base")
            model.max_seq_length = 256
            doc_vectors = models.encode(model, self.consumer_docs, precision="fp32")
            np.save(cache, doc_vectors)
        query_vectors = models.encode(
            models.load_model("base"), list(self.consumer.queries), precision="fp32"
        )
        similarities = query_vectors @ doc_vectors.T
        row_of = {pair_id: row for row, pair_id in enumerate(self.full[col.ID].astype(str))}
        pool: set[int] = set()
        for row, scores in enumerate(similarities):
            pool.update(np.argpartition(-scores, size)[:size].tolist())
            lexical = self.lexical["consumer"][row]
            pool.update(np.argsort(-lexical)[:DEPTH].tolist())
            pool.update(row_of[pair_id] for pair_id in self.consumer.relevant[row])
        self.pool = np.array(sorted(pool))
        self.pool_size = size

    def score(self, model: Any) -> dict[str, float]:
        """Metrics of a loaded model (dense and hybrid, held-out and consumer halves)."""
        from medqa import models

        model.max_seq_length = 256  # what the app's index uses
        out: dict[str, float] = {}
        started = time.perf_counter()
        for name, docs in (("heldout", self.heldout_docs), ("consumer", self.consumer_docs)):
            _, eval_set, corpus = self.bm25[name]
            ids = corpus[col.ID].astype(str).tolist()
            lexical_all = self.lexical[name]
            pool = getattr(self, "pool", None) if name == "consumer" else None
            if pool is not None:
                docs = [docs[i] for i in pool]
                ids = [ids[i] for i in pool]
                lexical_all = [scores[pool] for scores in lexical_all]
                out["consumer_pool"] = float(len(pool))
            doc_vectors = models.encode(model, docs, precision="fp32")
            query_vectors = models.encode(model, list(eval_set.queries), precision="fp32")
            similarities = query_vectors @ doc_vectors.T
            for mode, lexical in (("dense", None), ("hybrid", lexical_all)):
                table = per_query_metrics(
                    self._ranked(similarities, lexical, ids),
                    list(eval_set.relevant),
                    query_ids=list(eval_set.query_ids),
                )
                masks = {"": np.ones(len(table), dtype=bool)} if name == "heldout" else self.halves
                for half, mask in masks.items():
                    for metric in METRICS:
                        key = f"{name}{'-' + half if half else ''}/{mode}/{metric}"
                        out[key] = float(table[metric].to_numpy()[mask].mean())
        out["eval_seconds"] = time.perf_counter() - started
        return out


# ------------------------------------------------------------------------------------------ running


def run_variant(variant: Variant, scorer: Scorer, work: Path) -> dict[str, Any]:
    """Train (or merge) and score one variant; returns its result record."""
    import torch

    from medqa import models
    from medqa.training.data import build_training_data
    from medqa.training.trainer import train

    record: dict[str, Any] = {"name": variant.name, "note": variant.note, "extra": variant.extra}
    model_dir = work / "models" / variant.name
    started = time.perf_counter()
    if variant.config is None and variant.merge_of is None:
        model = models.load_model("base")
        record["train_seconds"] = 0.0
    elif variant.merge_of is not None:
        from sentence_transformers import SentenceTransformer

        source, share = variant.merge_of
        model = SentenceTransformer(str(work / "models" / source), device="cpu")
        base_state = models.load_model("base").state_dict()
        with torch.no_grad():
            for key, tensor in model.state_dict().items():
                if key in base_state and tensor.is_floating_point():
                    tensor.mul_(1.0 - share).add_(base_state[key].to(tensor.dtype), alpha=share)
        exact, pooled = work / "results" / f"{source}.json", work / "results" / f"{source}.pool.json"
        source_record = json.loads((exact if exact.exists() else pooled).read_text())
        record["train_seconds"] = source_record["train_seconds"]
        record["config"] = dict(source_record.get("config", {}), merge_with_base=share)
        record["data"] = source_record.get("data", {})
    else:
        from sentence_transformers import SentenceTransformer

        config = variant.config
        data = build_training_data(config)
        if variant.extra:
            data = extra_pairs(data, variant.extra)
        if (model_dir / "run.json").is_file():
            # Trained before but not scored (an interrupted batch): score the saved model.
            info = json.loads((model_dir / "run.json").read_text())
            record["train_seconds"] = float(info.get("duration_seconds", 0.0))
        else:
            run = train(config, model_dir, overwrite=True, data=data)
            info = json.loads((Path(run.path) / "run.json").read_text())
            record["train_seconds"] = time.perf_counter() - started
        record["config"] = config.to_dict()
        record["data"] = {k: v for k, v in data.summary.items() if k != "heldout"}
        record["training"] = info.get("training", {})
        model = SentenceTransformer(str(model_dir), device="cpu")
    record.update(scorer.score(model))
    return record


def table(records: list[dict[str, Any]]) -> list[str]:
    """The comparison table, base first, with deltas against the base model."""
    base = next((r for r in records if r["name"] == "base" and not r.get("pooled")), None)
    columns = [
        ("HO mrr", "heldout/dense/mrr@10"),
        ("HO h@1", "heldout/dense/accuracy@1"),
        ("sel h@1", "consumer-sel/dense/accuracy@1"),
        ("sel h@3", "consumer-sel/dense/accuracy@3"),
        ("sel mrr", "consumer-sel/dense/mrr@10"),
        ("rep h@3", "consumer-rep/dense/accuracy@3"),
        ("rep mrr", "consumer-rep/dense/mrr@10"),
        ("all h@1", "consumer-all/dense/accuracy@1"),
        ("all h@3", "consumer-all/dense/accuracy@3"),
        ("all mrr", "consumer-all/dense/mrr@10"),
        ("hyb HO", "heldout/hybrid/mrr@10"),
        ("hyb all3", "consumer-all/hybrid/accuracy@3"),
        ("hyb allm", "consumer-all/hybrid/mrr@10"),
    ]
    header = (
        f"{'variant':<22}"
        + "".join(f"{label:>9}" for label, _ in columns)
        + f"{'train s':>9}{'pairs':>7}  both?"
    )
    lines = [header, "-" * len(header)]
    for record in records:
        cells = "".join(f"{record.get(key, float('nan')):>9.3f}" for _, key in columns)
        verdict = ""
        if base is not None and record is not base:
            better_heldout = record["heldout/dense/mrr@10"] > base["heldout/dense/mrr@10"]
            better_consumer = (
                record["consumer-sel/dense/mrr@10"] > base["consumer-sel/dense/mrr@10"]
                and record["consumer-sel/dense/accuracy@3"] >= base["consumer-sel/dense/accuracy@3"]
            )
            verdict = "yes" if better_heldout and better_consumer else ("HO only" if better_heldout else "no")
        pairs = record.get("data", {}).get("train_pairs", 0)
        lines.append(
            f"{record['name']:<22}{cells}{record.get('train_seconds', 0):>9.0f}{pairs:>7}  {verdict}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated variant names (default: all not yet cached)")
    parser.add_argument("--rerun", action="store_true", help="ignore cached results of the chosen variants")
    parser.add_argument("--work", default="/tmp/recipe", help="folder for trained models and cached results")
    parser.add_argument("--report", action="store_true", help="only print the table of cached results")
    parser.add_argument(
        "--hold-lock", action="store_true", help="take the CPU lock once for all chosen variants"
    )
    parser.add_argument(
        "--pool", type=int, default=0, help="screen: score consumer questions in a base top-N candidate pool"
    )
    args = parser.parse_args(argv)

    work = Path(args.work)
    (work / "results").mkdir(parents=True, exist_ok=True)
    by_name = {v.name: v for v in VARIANTS}
    chosen = [by_name[name] for name in args.only.split(",")] if args.only else list(VARIANTS)  # --only order
    if not args.report:
        scorer = Scorer()  # light (BM25 over the corpus, no model): no need to queue for the lock
        with cpu_lock() if args.pool else contextlib.nullcontext():
            if args.pool:
                scorer.use_pool(work, args.pool)
                print(
                    f"screening: consumer questions scored in a pool of {len(scorer.pool)} pairs", flush=True
                )
        for line in scorer.describe():
            print(line, flush=True)
        batch_lock = cpu_lock() if args.hold_lock else contextlib.nullcontext()
        batch_lock.__enter__()
        for variant in chosen:
            suffix = "" if not args.pool else ".pool"
            cached = work / "results" / f"{variant.name}{suffix}.json"
            if cached.exists() and not args.rerun:
                continue
            print(f"== {variant.name}: {variant.note}", flush=True)
            with contextlib.nullcontext() if args.hold_lock else cpu_lock():
                record = run_variant(variant, scorer, work)
            cached.write_text(json.dumps(record, indent=1))
            print(
                f"   HO mrr {record['heldout/dense/mrr@10']:.3f}  consumer sel mrr "
                f"{record['consumer-sel/dense/mrr@10']:.3f} h@3 {record['consumer-sel/dense/accuracy@3']:.3f}  "
                f"train {record['train_seconds']:.0f}s eval {record['eval_seconds']:.0f}s",
                flush=True,
            )
        batch_lock.__exit__(None, None, None)

    order = {v.name: i for i, v in enumerate(VARIANTS)}
    records = []
    for path in sorted((work / "results").glob("*.json")):
        record = json.loads(path.read_text())
        record["pooled"] = path.name.endswith(".pool.json")
        records.append(record)
    records.sort(key=lambda r: (order.get(r["name"], len(order)), r["pooled"]))
    for record in records:
        if record["pooled"]:
            record["name"] += " (pool)"
    lines = [
        "Recipe experiments: base vs fine-tuned variants (bench/experiments_recipe.py; computed, not typed).",
        "Dense unless 'hyb'. HO = curated held-out (120 q vs 520 answers); sel/rep/all = consumer halves.",
        "'both?' = beats base on held-out MRR@10 AND on consumer-sel MRR@10 with Accuracy@3 not lower.",
        "'(pool)' = screening run: consumer questions ranked within a candidate pool (base dense top-N, BM25",
        "top 100, all relevant pairs) instead of the whole corpus; rows without it rank the whole corpus.",
        "",
        *table(records),
        "",
        "variants:",
    ]
    for record in records:
        lines.append(f"  {record['name']}: {record['note']}")
        if record.get("config"):
            config = {k: v for k, v in record["config"].items() if ORIGINAL_CONFIG.to_dict().get(k) != v}
            lines.append(f"      config (vs original): {json.dumps(config)}")
        if record.get("data"):
            data = {
                k: record["data"][k]
                for k in ("train_source_pairs", "train_pairs", "pairs_per_variant")
                if k in record["data"]
            }
            lines.append(f"      data: {json.dumps(data)}; extra: {record.get('extra') or '-'}")
        if record.get("training"):
            t = record["training"]
            lines.append(
                f"      training: {t.get('steps')} steps, {t.get('precision')}, {t.get('train_runtime_seconds')} s "
                f"trainer runtime, {t.get('samples_per_second')} samples/s; eval {record['eval_seconds']:.0f} s"
            )
    text = "\n".join(lines)
    print(text)
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
