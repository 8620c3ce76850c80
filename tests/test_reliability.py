"""Reliability: bad input gets a clear message and loses nothing, broken files on disk are detected and
the app keeps working, concurrent users do not disturb each other.

The library-level details of each piece are tested next to it (``test_data_upload.py``,
``test_models.py`` ...). These tests take the user's side: they go through the page or the engine a
user actually reaches, and check both the message and that earlier data survived.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medqa import models, settings
from medqa.conversation import Conversation
from medqa.data import schema as col
from medqa.data import store
from medqa.data.upload import MAX_ROWS, import_csv
from medqa.errors import ModelLoadError, QuestionError, RunNameError
from medqa.evaluation import export
from medqa.retrieval import dense
from medqa.retrieval.query import MAX_QUESTION_CHARS
from medqa.runs import registry
from tests.conftest import APP_ROOT, open_page, write_collection, zip_collection

ARTIFACTS = APP_ROOT / "artifacts" / "reliability"
GOOD_CSV = (
    b"Question,Answer,Focus\n"
    b"What causes gout?,Uric acid crystals collect in a joint.,Gout\n"
    b"How is gout treated?,Medicines calm the joint and lower uric acid.,Gout\n"
)


def _texts(app) -> str:
    return "\n".join(
        str(element.value)
        for element in (*app.markdown, *app.caption, *app.info, *app.warning, *app.error, *app.success)
    )


@pytest.fixture
def kept_dataset(workdirs: Path) -> store.DatasetInfo:
    """A dataset the user imported earlier: no failed upload may change or remove it."""
    return store.save_dataset(import_csv(GOOD_CSV).pairs, "kept", kind="upload", origin="kept.csv")


def _assert_kept(info: store.DatasetInfo) -> None:
    """The earlier dataset is still the only one, with the same content."""
    assert [dataset.name for dataset in store.list_datasets()] == [info.name]
    assert store.list_datasets()[0].fingerprint == info.fingerprint
    assert len(store.load_pairs(info.name)) == info.rows


# --- CSV uploads through the Home page ---------------------------------------------------------------


def _rows_csv(rows: int) -> bytes:
    lines = ["Question,Answer"] + [f"what causes condition {n} ?,answer number {n}." for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


BAD_UPLOADS = {
    "empty": (b"", "empty"),
    "whitespace only": (b"  \n\n  ", "empty"),
    "header only": (b"Question,Answer\n", "header but no rows"),
    "not UTF-8": (
        "Question,Answer\nQu'est-ce que la caféine ?,Un stimulant.\n".encode("latin-1"),
        "not UTF-8",
    ),
    "binary": (bytes(range(256)) * 64, "binary"),
    "oversized": (
        b"Question,Answer\n" + b"q,a\n" * (settings.MAX_UPLOAD_BYTES // 4 + 10),
        "largest accepted",
    ),
    "100k rows": (_rows_csv(100_000), f"largest accepted is {MAX_ROWS:,}"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_csv_upload_is_a_clear_message_and_nothing_is_lost(
    case: str, kept_dataset: store.DatasetInfo
) -> None:
    content, message = BAD_UPLOADS[case]
    home = open_page()
    started = time.perf_counter()
    home.file_uploader(key="csv_upload").upload("bad.csv", content, "text/csv").run()
    elapsed = time.perf_counter() - started
    assert not home.exception
    assert home.error, f"no error shown for {case}"
    assert message in home.error[0].value
    assert "bad.csv" in home.error[0].value  # the message names the file
    assert elapsed < 30, f"{case} took {elapsed:.1f} s to be refused"
    _assert_kept(kept_dataset)


def test_wrong_columns_cannot_be_imported_and_say_which_columns_exist(
    kept_dataset: store.DatasetInfo,
) -> None:
    home = open_page()
    home.file_uploader(key="csv_upload").upload("notes.csv", b"Notes\nbuy milk\ncall mum\n", "text/csv").run()
    assert not home.exception
    home.button(key="import_csv").click().run()
    assert not home.exception
    assert "must be different columns" in home.error[0].value
    _assert_kept(kept_dataset)
    # Without a page to map columns, the library names the columns it found.
    with pytest.raises(Exception, match=r"No question column found\. The columns are: Name, Age"):
        import_csv(b"Name,Age\nAda,36\n")


def test_nans_duplicates_and_markup_import_as_text_with_a_report(kept_dataset: store.DatasetInfo) -> None:
    data = (
        b"Question,Answer,Focus\n"
        b'"What is gout <script>alert(1)</script>?","<b>Gout</b> is a joint disease.",Gout\n'
        b'"What is gout <script>alert(1)</script>?","<b>Gout</b> is a joint disease.",Gout\n'  # duplicate
        b"What causes gout?,,Gout\n"  # no answer
        b",An answer without a question.,Gout\n"
        b"Is NaN a number?,NaN,Gout\n"  # the text NaN is data, not a missing value
        b'"=HYPERLINK(""http://example.org"",""x"")","+1 call now",Gout\n'
    )
    home = open_page()
    home.file_uploader(key="csv_upload").upload("mixed.csv", data, "text/csv").run()
    home.text_input[0].set_value("mixed").run()
    home.button(key="import_csv").click().run()
    assert not home.exception
    assert "Imported 3 of 6 rows" in home.success[0].value
    notes = _texts(home)
    assert "2 rows without a question or an answer were skipped" in notes
    assert "1 duplicate rows were skipped" in notes
    stored = store.load_pairs("mixed")
    assert "What is gout <script>alert(1)</script>?" in set(stored[col.QUESTION])
    assert "NaN" in set(stored[col.ANSWER])
    assert {d.name for d in store.list_datasets()} == {"kept", "mixed"}


@pytest.mark.parametrize(
    "text",
    [
        '=cmd|"/c calc"!A1',
        "+1 call now",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "first line\n=1+1",
        "\r=1+1",
        "first line\r=1+2",
    ],
    ids=repr,
)
def test_formula_cells_are_neutralised_on_export(kept_dataset: store.DatasetInfo, text: str) -> None:
    """Text from an upload cannot run as a spreadsheet formula in an exported CSV, wherever it sits."""
    table = store.load_pairs(kept_dataset.name).head(1).copy()
    table[col.QUESTION] = text
    table[col.ANSWER] = "plain answer"
    exported = export.frame_to_csv(table).decode("utf-8-sig")
    # Spreadsheets treat \r, \n and \r\n alike as row ends outside quotes; so does universal newlines.
    rows = list(csv.reader(io.StringIO(exported)))
    assert len(rows) == 2, rows  # header + one row: nothing split the row
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(export.FORMULA_PREFIXES)], cells


# --- questions ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Data and models folders with the fixture collection built into ``full`` and ``curated``."""
    root = tmp_path_factory.mktemp("reliability")
    archive = zip_collection(write_collection(root / "collection"), root / "MedQuAD-master.zip")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQA_DATA_DIR", str(root / "data"))
        patch.setenv("MEDQA_MODELS_DIR", str(root / "models"))
        patch.delenv("MEDQA_MEDQUAD_SOURCE", raising=False)
        store.build_datasets(str(archive), categories=3, per_category=5, test_per_category=1)
        yield root


@pytest.fixture(scope="module")
def engine(fixture_data: Path):
    """The hybrid engine over the fixture corpus with the base model (loaded once for the module)."""
    from medqa.retrieval.engine import Engine

    built = Engine.from_dataset(store.FULL, "base")
    _ = built.calibration
    return built


@pytest.mark.model
@pytest.mark.parametrize("question", ["", "   \n\t ", "😷🤒💊", "?!…", "\x00\x07"])
def test_questions_without_words_are_refused_clearly(engine, question: str) -> None:
    with pytest.raises(QuestionError) as raised:
        engine.search(question)
    assert str(raised.value).startswith(("Please type a question", "I could not find any words"))


@pytest.mark.model
def test_a_10000_character_question_is_shortened_and_answered(engine) -> None:
    question = ("What are the symptoms of asthma and how do they change at night " * 200)[:10_000]
    started = time.perf_counter()
    result = engine.search(question)
    assert time.perf_counter() - started < 10
    assert len(result.question) <= MAX_QUESTION_CHARS
    assert any("longer than" in note for note in result.notes)
    assert result.hits and result.hits[0].focus == "Asthma"


@pytest.mark.model
@pytest.mark.parametrize(
    "question",
    [
        "¿Cuáles son los síntomas del asma?",
        "哮喘的症状是什么？",
        "ما هي أعراض الربو؟",
        "Какие симптомы у астмы?",
        "asthma 😷 symptoms???",
    ],
)
def test_non_english_and_mixed_questions_get_a_result_not_a_crash(engine, question: str) -> None:
    result = engine.search(question)
    assert result.abstain or result.hits
    assert 0 <= result.threshold <= 1


# --- broken files on disk ----------------------------------------------------------------------------


def _base_folder() -> Path:
    return Path(models.resolve_model_source(models.BASE))


def make_run(name: str, *, weights: bytes | None = None, run_json: str | None = "{}") -> Path:
    """A run folder under models/: the base model's files linked in, optionally broken weights/run.json."""
    folder = settings.models_dir() / name
    folder.mkdir(parents=True)
    for path in _base_folder().rglob("*"):
        target = folder / path.relative_to(_base_folder())
        if path.is_dir():
            target.mkdir(exist_ok=True)
        elif path.name == "model.safetensors" and weights is not None:
            target.write_bytes(weights)
        else:
            target.symlink_to(path)
    if run_json is not None:
        payload = (
            run_json
            if run_json != "{}"
            else json.dumps(
                {
                    "created": "2026-01-01T00:00:00+00:00",
                    "config": {"preset": "recommended", "data": "curated"},
                }
            )
        )
        (folder / registry.RUN_FILE).write_text(payload)
    return folder


def _truncated_weights() -> bytes:
    with (_base_folder() / "model.safetensors").open("rb") as stream:
        return stream.read(1 << 20)


BROKEN_RUNS = {
    "truncated weights": {"weights": "truncated"},
    "empty weights": {"weights": b""},
    "garbage weights": {"weights": b"not a safetensors file at all" * 10},
    "half-written, no run.json": {"run_json": None},
    "unreadable run.json": {"run_json": '{"created": "2026-01-0'},
}


def _make_broken(name: str, case: str) -> Path:
    options = dict(BROKEN_RUNS[case])
    if options.get("weights") == "truncated":
        options["weights"] = _truncated_weights()
    return make_run(name, **options)


@pytest.mark.parametrize("case", list(BROKEN_RUNS))
def test_broken_run_folder_is_detected_not_listed_and_not_loaded(workdirs: Path, case: str) -> None:
    make_run("good-run")
    _make_broken("broken-run", case)
    assert [run.name for run in registry.list_runs()] == ["good-run"]
    problems = registry.list_problems()
    assert [problem.name for problem in problems] == ["broken-run"]
    assert problems[0].reason
    with pytest.raises(RunNameError, match="incomplete or corrupt"):
        registry.get_run("broken-run")
    if case != "half-written, no run.json" and case != "unreadable run.json":
        with pytest.raises(ModelLoadError, match="incomplete or corrupt"):
            models.load_model("broken-run")


def test_training_scratch_folders_are_ignored(workdirs: Path) -> None:
    make_run("good-run")
    scratch = settings.models_dir() / ".tmp-good-run-123"
    scratch.mkdir()
    (scratch / "model.safetensors").write_bytes(b"\x00" * 100)
    assert [run.name for run in registry.list_runs()] == ["good-run"]
    assert registry.list_problems() == []


def test_home_page_keeps_working_with_broken_runs(workdirs: Path) -> None:
    make_run("good-run")
    _make_broken("truncated-run", "truncated weights")
    _make_broken("unfinished-run", "half-written, no run.json")
    home = open_page()
    assert not home.exception
    text = _texts(home)
    assert "Fine-tuned: good-run" in text
    assert "Fine-tuned: truncated-run" not in text and "Fine-tuned: unfinished-run" not in text


@pytest.mark.model
@pytest.mark.parametrize("damage", ["truncate", "flip a byte", "garbage meta", "no meta", "wrong rows"])
def test_corrupt_embedding_cache_is_detected_and_rebuilt(fixture_data: Path, engine, damage: str) -> None:
    corpus = store.load_corpus(store.FULL)
    first = dense.DenseIndex.build_or_load(corpus, "base")
    folder = dense.indexes_dir() / first.key
    assert (folder / "embeddings.npy").is_file()
    embeddings_file, meta_file = folder / "embeddings.npy", folder / "meta.json"
    if damage == "truncate":
        data = embeddings_file.read_bytes()
        embeddings_file.write_bytes(data[: len(data) // 2])
    elif damage == "flip a byte":
        data = bytearray(embeddings_file.read_bytes())
        data[-5] ^= 0xFF
        embeddings_file.write_bytes(bytes(data))
    elif damage == "garbage meta":
        meta_file.write_text("{not json")
    elif damage == "no meta":
        meta_file.unlink()
    else:
        np.save(embeddings_file, np.zeros((3, 384), dtype=np.float32))
    with pytest.raises(Exception):  # noqa: B017 - any of the cache's own errors
        dense.load_cached(folder, corpus[col.ID])
    rebuilt = dense.DenseIndex.build_or_load(corpus, "base")
    assert not rebuilt.from_cache
    np.testing.assert_allclose(rebuilt.embeddings, first.embeddings, atol=1e-4)
    again = dense.DenseIndex.build_or_load(corpus, "base")
    assert again.from_cache  # the rebuilt cache is valid again
    assert engine.search("What are the symptoms of gout?").hits[0].focus == "Gout"


@pytest.mark.model
def test_ask_page_answers_after_its_embedding_cache_was_corrupted(workdirs: Path, fixture_zip: Path) -> None:
    """A restart finds a damaged index on disk: the Ask page rebuilds it and answers, no error shown."""
    import streamlit as st

    from medqa.retrieval import builds

    store.build_datasets(str(fixture_zip), categories=3, per_category=5, test_per_category=1)
    first = open_page("pages/2_Ask.py")
    assert not first.exception
    for build in builds.active():  # the page builds its index in the background
        assert build.wait(600) and build.error is None
    caches = list(dense.indexes_dir().glob("*/embeddings.npy"))
    assert caches, "the Ask page did not cache its index"
    for path in caches:
        path.write_bytes(path.read_bytes()[:200])  # a half-written file
    st.cache_resource.clear()  # what a restart does to the in-memory engine
    st.cache_data.clear()
    again = open_page("pages/2_Ask.py")
    again.chat_input(key="ask_input").set_value("What are the symptoms of gout?").run()
    assert not again.exception
    assert not again.error
    result = next(iter(again.session_state["ask_turns"][-1].results.values()))
    assert result.hits and result.hits[0].focus == "Gout"
    for path in caches:
        np.load(path)  # rebuilt and readable again


@pytest.mark.model
def test_unwritable_cache_only_disables_caching(
    fixture_data: Path, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = store.load_corpus(store.FULL)
    shutil.rmtree(dense.indexes_dir())

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dense, "save_index", no_space)
    index = dense.DenseIndex.build_or_load(corpus, "base")
    assert not index.from_cache and len(index) == len(corpus)
    assert not any(dense.indexes_dir().iterdir())


# --- run names ---------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../escape",
    "../../etc/passwd",
    "a/b",
    "a\\b",
    "/absolute",
    "..",
    ".hidden",
    "run\x00name",
    "run\nname",
    "run\x1b[31mred",
    "run\u202eevil",  # right-to-left override
    "",
    "   ",
    "x" * 200,
    "base",
    "semi;colon",
    "$(rm -rf ~)",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_hostile_run_names_are_refused_and_touch_nothing(workdirs: Path, name: str) -> None:
    victim = workdirs / "victim.txt"
    victim.write_text("keep me")
    make_run("good-run")
    with pytest.raises(RunNameError) as raised:
        registry.sanitize_run_name(name)
    assert str(raised.value)
    for action in (registry.run_path, registry.get_run, registry.delete_run, registry.run_exists):
        with pytest.raises(RunNameError):
            action(name)
    assert victim.read_text() == "keep me"
    assert [run.name for run in registry.list_runs()] == ["good-run"]


def test_delete_never_follows_a_symlink_out_of_models(workdirs: Path) -> None:
    outside = workdirs / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (settings.models_dir() / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RunNameError):
        registry.delete_run("link")
    assert (outside / "precious.txt").read_text() == "keep me"


# --- concurrent users --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def write_figures(name: str, lines: list[str]) -> None:
    """Keep measured figures next to the screenshots (artifacts/ is git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


@pytest.mark.model
def test_concurrent_conversations_keep_their_own_topic(engine) -> None:
    """Several users at once on one shared engine: each follow-up is read against its own conversation."""
    scripts = {
        "Asthma": ["What are the symptoms of asthma?", "How is it treated?", "Who is at risk?"],
        "Gout": ["What causes gout?", "How is it treated?", "Who is at risk?"],
        "Glaucoma": ["How to diagnose glaucoma?", "How is it treated?", "Who is at risk?"],
        "Shingles": ["What is shingles?", "How is it treated?", "Who is at risk?"],
    }
    latencies: list[float] = []
    errors: list[BaseException] = []
    seen: dict[str, list[str]] = {}
    barrier = threading.Barrier(len(scripts))

    def user(focus: str, questions: list[str]) -> None:
        conversation = Conversation()
        barrier.wait()
        try:
            for _ in range(3):
                conversation.reset()
                for question in questions:
                    started = time.perf_counter()
                    result = conversation.ask(engine, question)
                    latencies.append(time.perf_counter() - started)
                    seen.setdefault(focus, []).append(result.hits[0].focus if result.hits else "")
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=user, args=item) for item in scripts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    for focus, answered in seen.items():
        assert answered == [focus] * 9, (focus, answered)
    write_figures(
        "engine-concurrency",
        [
            f"{len(scripts)} concurrent conversations x 9 questions on one engine (fixture corpus)",
            f"latency p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms",
            f"cores available: {len(os.sched_getaffinity(0))}",
        ],
    )


# --- faults during training --------------------------------------------------------------------------

_TRAIN_FOREVER = """
import sys
from medqa.training import arguments
from medqa.training.trainer import train

config = arguments.preset(
    arguments.ORIGINAL, data="curated", max_steps=100000, batch_size=4, max_seq_length=32,
    evaluation="none", eval_baseline=False,
)
train(config, sys.argv[1])
"""


def tiny_config():
    from medqa.training import arguments

    return arguments.preset(
        arguments.ORIGINAL, data=store.CURATED, max_steps=2, batch_size=4, max_seq_length=32,
        evaluation="none", eval_baseline=False,
    )  # fmt: skip


@pytest.mark.model
@pytest.mark.slow
def test_killed_training_leaves_the_registry_intact(
    fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL a training mid-run (no cleanup code can run), then start afresh: no partial run listed."""
    import signal
    import subprocess
    import sys

    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path / "models"))
    make_run("good-run")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(APP_ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", _TRAIN_FOREVER, "killed-run"], cwd=APP_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not list(settings.models_dir().glob(".tmp-killed-run-*")):
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the training never started writing"
            time.sleep(0.2)
        time.sleep(3)  # well into the training loop
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stderr.close()
    # "Restart": a fresh look at the folder, as a new app process would have.
    assert [run.name for run in registry.list_runs()] == ["good-run"]
    assert registry.list_problems() == []  # the scratch folder is ignored, not reported as broken
    assert not registry.run_exists("killed-run")
    home = open_page()
    assert not home.exception
    assert "Fine-tuned: killed-run" not in _texts(home)


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("error_number", [30, 28], ids=["read-only", "disk full"])
def test_unwritable_models_folder_is_a_clear_training_error(
    fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error_number: int
) -> None:
    """Tests run as root, where permissions do not stop writes; the OS error is injected instead."""
    from medqa.errors import MedQAError
    from medqa.training.trainer import train

    models_dir = tmp_path / "models"
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(models_dir))
    make_run("good-run")
    original_mkdir = Path.mkdir

    def failing_mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self.name.startswith(".tmp-") and self.parent == models_dir:
            raise OSError(error_number, os.strerror(error_number), str(self))
        original_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", failing_mkdir)
    with pytest.raises(MedQAError) as raised:
        train(tiny_config(), "cannot-write")
    assert os.strerror(error_number) in str(raised.value)
    assert [run.name for run in registry.list_runs()] == ["good-run"]
    assert sorted(path.name for path in models_dir.iterdir()) == ["good-run"]


@pytest.mark.model
@pytest.mark.slow
def test_interleaved_ask_sessions_while_a_training_runs(
    fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four Ask page sessions take turns on follow-up conversations while a training runs in the same
    process: no exception, each keeps its own topic and history.

    AppTest sessions share process-wide test state, so they cannot run in parallel threads; true
    parallel sessions are covered by the engine test above and by the browser load test in
    ``tests/e2e`` (several Chromium sessions against one ``streamlit run`` server).
    """
    from medqa.training import job

    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path / "models"))
    scripts = {
        "Asthma": ["What are the symptoms of asthma?", "How is it treated?", "Who is at risk?"],
        "Gout": ["What causes gout?", "How is it treated?", "Who is at risk?"],
        "Glaucoma": ["How to diagnose glaucoma?", "How is it treated?", "Who is at risk?"],
        "Shingles": ["What is shingles?", "How is it treated?", "Who is at risk?"],
    }
    sessions = {topic: open_page("pages/2_Ask.py") for topic in scripts}
    training = job.start_job(tiny_config().with_overrides(max_steps=100_000), "trained-under-load")
    try:
        for turn in range(3):
            for topic, app in sessions.items():
                app.chat_input(key="ask_input").set_value(scripts[topic][turn]).run()
                assert not app.exception, app.exception[0].value
                result = next(iter(app.session_state["ask_turns"][-1].results.values()))
                assert result.hits and result.hits[0].focus == topic, (topic, turn, result.hits[:1])
                if turn:
                    assert result.follow_up is not None and result.follow_up.focus == topic
        still_training = training.running
    finally:
        training.cancel()
        training.wait(timeout=120)
    assert still_training, "the training ended before the sessions did: the test did not overlap it"
    for topic, app in sessions.items():
        assert [turn.question for turn in app.session_state["ask_turns"]] == scripts[topic]


# --- faults and resources (issue 14 items 10-16) ----------------------------------------------------


def _bm25_corpus() -> pd.DataFrame:
    rows = [
        ("a-1", "Gout", "What causes gout ?", "Uric acid crystals build up in a joint.", ""),
        ("a-2", "Asthma", "How is asthma treated ?", "Inhalers open the airways.", ""),
        ("a-3", "Shingles", "What are the symptoms of shingles ?", "A painful rash with blisters.", ""),
    ]
    return pd.DataFrame(rows, columns=[col.ID, col.FOCUS, col.QUESTION, col.ANSWER, col.SYNONYMS])


def test_a_bm25_cache_with_a_flipped_byte_is_detected_and_rebuilt(workdirs: Path) -> None:
    """Item 11: damage that keeps the document count (a flipped byte in any file) is caught by checksums."""
    from medqa.data.store import table_fingerprint
    from medqa.retrieval.bm25 import BM25Index, bm25_cache_folder

    corpus = _bm25_corpus()
    built = BM25Index(corpus, use_cache=True)
    expected = built.scores("gout crystals")
    folder = bm25_cache_folder(table_fingerprint(corpus), "all")
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.name != "meta.json")
    assert files
    for damaged in files:
        data = bytearray(damaged.read_bytes())
        data[-1] ^= 0x01
        damaged.write_bytes(bytes(data))
        index = BM25Index(corpus, use_cache=True)
        assert not index.from_cache, f"{damaged.name} damaged but the cache was used"
        np.testing.assert_allclose(index.scores("gout crystals"), expected)
        assert BM25Index(corpus, use_cache=True).from_cache  # rebuilt and saved again


@pytest.mark.parametrize("kind", ["registry", "other folder", "file"])
def test_overwrite_never_replaces_something_that_is_not_a_run(workdirs: Path, kind: str) -> None:
    """Item 10: ``train --out DIR --overwrite`` refuses a folder that is not a run (before training)."""
    from medqa.training import arguments, trainer

    if kind == "registry":
        saved = models.settings.models_dir() / "kept-run"
        saved.mkdir(parents=True)
        (saved / registry.RUN_FILE).write_text("{}")
        target = models.settings.models_dir()
    elif kind == "other folder":
        target = workdirs / "documents"
        target.mkdir()
        (target / "thesis.txt").write_text("years of work")
    else:
        target = workdirs / "notes.txt"
        target.write_text("keep me")
    before = sorted(str(path) for path in target.parent.rglob("*"))
    with pytest.raises(RunNameError, match="not a run"):
        trainer.train(arguments.PRESETS["original"], target, overwrite=True)
    with pytest.raises(RunNameError, match="not a run"):
        registry.place_run(workdirs / "never-used", target, overwrite=True)
    assert sorted(str(path) for path in target.parent.rglob("*")) == before
    empty = workdirs / "empty"
    empty.mkdir()
    registry.check_replaceable(empty)  # an empty folder or a run may be replaced
    registry.check_replaceable(models.settings.models_dir() / "kept-run" if kind == "registry" else empty)


def test_a_full_disk_during_a_csv_import_is_a_clear_message(
    kept_dataset: store.DatasetInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 12: the Home CSV import on a full disk shows the problem; nothing is lost or half-written."""
    import errno

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    home = open_page()
    home.file_uploader(key="csv_upload").upload("new.csv", GOOD_CSV, "text/csv").run()
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    home.button(key="import_csv").click().run()
    assert not home.exception
    assert "No space left" in home.error[0].value
    _assert_kept(kept_dataset)


def test_explore_shows_a_clear_message_for_an_unreadable_dataset(workdirs: Path) -> None:
    """Item 12: a dataset damaged after it was listed is a message on Explore, not a crash."""
    info = store.save_dataset(import_csv(GOOD_CSV).pairs, "damaged-explore", kind="upload", origin="d.csv")
    (store.datasets_dir() / f"{info.name}.parquet").write_bytes(b"not parquet")
    page = open_page("pages/1_Explore.py")
    assert not page.exception
    assert "cannot be read" in page.error[0].value


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "import", "{csv}", "--name", "full"], "reserved"),
        (["data", "import", "{csv}", "--name", "kept"], "already exists"),
        (["data", "build", "--source", "{zip}", "--per-category", "1"], "2 pairs per area"),
    ],
)
def test_cli_argument_mistakes_are_one_line_errors(
    kept_dataset: store.DatasetInfo, fixture_zip: Path, tmp_path: Path, capsys, argv, message: str
) -> None:
    """Item 16: ``data import --name full`` and ``data build --per-category 1`` gave tracebacks."""
    from medqa.cli import main

    csv_file = tmp_path / "more.csv"
    csv_file.write_bytes(GOOD_CSV)
    argv = [part.format(csv=csv_file, zip=fixture_zip) for part in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
    _assert_kept(kept_dataset)


def test_a_200k_column_csv_gets_a_short_error(kept_dataset: store.DatasetInfo) -> None:
    """Item 16: the error names the problem in a line, not 1.3 MB of column names."""
    from medqa.errors import CSVImportError

    header = ",".join(f"column{number}" for number in range(200_000))
    with pytest.raises(CSVImportError, match="200,000 columns") as caught:
        import_csv(f"{header}\n{',' * 199_999}\n".encode())
    assert len(str(caught.value)) < 300
    wide = "Q," + ",".join(f"c{number}" for number in range(150)) + "\n" + "x," * 150 + "y\n"
    with pytest.raises(CSVImportError, match="more") as caught:
        import_csv(wide.encode())  # under the cap: the columns are listed, shortened
    assert len(str(caught.value)) < 500
    _assert_kept(kept_dataset)


def test_the_uncached_full_corpus_counts_focus_areas_like_a_listing(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 16: without a writable cache the build reported every row's focus areas (10,542 for MedQuAD,
    not the 5,130 with answers that listings show)."""
    from medqa.data import medquad

    def no_cache(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(medquad, "write_parquet_atomic", no_cache)
    full, _ = store.build_datasets(str(fixture_zip), categories=2, per_category=3, test_per_category=1)
    corpus = medquad.load_medquad(fixture_zip, use_cache=False).pairs
    answered = corpus[corpus[col.HAS_ANSWER]]
    assert full.focus_areas == answered[col.FOCUS].nunique() < corpus[col.FOCUS].nunique()
    assert full.answered == len(answered)


@pytest.mark.model
def test_a_model_only_torch_can_run_is_refused_in_the_server(workdirs: Path, monkeypatch) -> None:
    """Item 14: a CLS-pooling model was loaded with torch inside the server (828 MB); now a clear refusal,
    before any index is built. The command line (not isolated) still runs it with torch."""
    from medqa.retrieval import encoder
    from medqa.retrieval.engine import Engine
    from tests.conftest import saved_run

    folder = saved_run("cls-run")
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps(config | {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )

    def no_torch(*args, **kwargs):
        raise AssertionError("torch loaded in the server")

    monkeypatch.setattr(encoder, "TorchEncoder", no_torch)
    monkeypatch.setattr(dense.DenseIndex, "build_or_load", no_torch)
    corpus = import_csv(GOOD_CSV).pairs
    with pytest.raises(ModelLoadError, match="cannot be used in this app") as caught:
        Engine(corpus, model="cls-run", isolated=True, use_cache=False)
    assert "mean pooling" in str(caught.value) and str(workdirs) not in str(caught.value)


@pytest.mark.model
def test_a_card_cites_the_source_of_the_text_it_shows(workdirs: Path) -> None:
    """Item 15: pairs sharing focus and question but from different NIH sites are not merged into one
    hit showing one site's link over another site's text (1,023 such groups in MedQuAD)."""
    from medqa.retrieval.engine import Engine

    rows = [
        ("Gout", "What is (are) Gout ?", "Gout text written by site A about uric acid.", "GARD", "https://a.example/gout"),
        ("Gout", "What is (are) Gout ?", "Gout text written by site B about joints.", "GHR", "https://b.example/gout"),
        ("Asthma", "What is (are) Asthma ?", "Asthma narrows the airways.", "GARD", "https://a.example/asthma"),
        ("Shingles", "What causes Shingles ?", "The chickenpox virus wakes up again.", "NIHSeniorHealth", "https://c.example/s"),
    ]  # fmt: skip
    corpus = pd.DataFrame(rows, columns=[col.FOCUS, col.QUESTION, col.ANSWER, col.SOURCE, col.URL])
    corpus[col.ID] = [f"pair-{number}" for number in range(len(corpus))]
    for column in (col.SYNONYMS, col.CUI, col.QTYPE, col.DOC_ID, col.SEMANTIC_TYPE, col.SEMANTIC_GROUP):
        corpus[column] = ""
    corpus[col.HAS_ANSWER] = True
    engine = Engine(corpus, model="base", use_cache=False)
    hits = engine.search("What is gout?", 4, mode="bm25").hits
    gout = [hit for hit in hits if hit.focus == "Gout"]
    assert gout
    for hit in gout:
        site = "site A" if hit.url.startswith("https://a.") else "site B"
        assert site in hit.answer and ("site B" if site == "site A" else "site A") not in hit.answer, hit


def test_a_child_stops_and_cleans_up_when_its_parent_is_gone(tmp_path: Path) -> None:
    """Item 16: end-of-file on stdin (the parent died, even by SIGKILL) stops the child and removes the
    parent's scratch folder."""
    from medqa.child_process import PARENT_GONE_EXIT, exit_with_parent

    scratch = tmp_path / ".corpus-abc"
    scratch.mkdir()
    (scratch / "corpus.parquet").write_bytes(b"x")
    codes: list[int] = []
    exit_with_parent(cleanup=scratch, stream=iter(["still here\n"]), exit=codes.append).join(5)
    assert codes == [PARENT_GONE_EXIT] and not scratch.exists()


@pytest.mark.model
def test_the_index_child_of_a_killed_server_does_not_run_on(fixture_data: Path, tmp_path: Path) -> None:
    """Item 16: after ``kill -9`` of the server, its index child ran to the end and left ``.corpus-*``."""
    import subprocess
    import sys

    scratch = dense.indexes_dir() / ".corpus-killed-parent"
    scratch.mkdir(parents=True)
    corpus = store.load_corpus(store.CURATED)[[col.ID, col.QUESTION, col.FOCUS, col.ANSWER]]
    corpus.assign(**{col.HAS_ANSWER: True}).to_parquet(scratch / "corpus.parquet", index=False)
    child = subprocess.Popen(
        [sys.executable, "-m", "medqa", "index", "--corpus", str(scratch / "corpus.parquet"), "--model",
         "base", "--progress-lines"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=APP_ROOT,
    )  # fmt: skip
    child.stdin.close()  # what the kernel does to the pipe when the parent is killed
    try:
        assert child.wait(timeout=120) == 3
    finally:
        child.kill()
    assert not scratch.exists()


def test_a_conversation_keeps_a_bounded_history() -> None:
    """Item 16: a session's Ask history had no cap (memory grew with every question)."""
    from types import SimpleNamespace

    from medqa.conversation import MAX_TURNS

    class Engine:
        def search(self, question, k, *, mode=None, context_focus=None):
            return SimpleNamespace(question=question, follow_up=None, abstain=True, hits=(), mentions=())

    chat = Conversation()
    for number in range(MAX_TURNS + 25):
        chat.ask(Engine(), f"question {number}")  # type: ignore[arg-type]
    assert len(chat.turns) == MAX_TURNS
    assert chat.turns[-1].question == f"question {MAX_TURNS + 24}" and chat.turns[0].question == "question 25"
    page = (APP_ROOT / "pages" / "2_Ask.py").read_text(encoding="utf-8")
    assert page.count("del st.session_state.ask_turns[:-MAX_TURNS]") == 2  # the page's turns too


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "seed must be between"),
        (["--epochs", "inf"], "must be finite"),
        (["--epochs", "nan"], "must be finite"),
    ],
)
def test_training_arguments_out_of_range_are_one_line_errors(
    workdirs: Path, capsys, argv: list[str], message: str
) -> None:
    """Item 16: ``train --seed -1`` gave a traceback; ``--epochs inf|nan`` were accepted."""
    from medqa.cli import main

    assert main(["train", "--out", str(workdirs / "models" / "never"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (workdirs / "models" / "never").exists()
