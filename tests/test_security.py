"""Security checks: data is never rendered as HTML, tokens never leak, the server config is hardened.

Data (MedQuAD answers, uploaded CSVs, model output) can contain markup; the app must show it as text.
These tests read the app's source (static checks) and run its pages with markup planted in the data
(behavioural checks). Tokens are fakes of the ``hf_...`` shape, so a leak is easy to spot.
"""

from __future__ import annotations

import ast
import concurrent.futures
import os
import re
import shutil
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from medqa import settings
from medqa.data import store
from medqa.data.upload import import_csv
from tests.conftest import APP_ROOT, open_page

#: Files that make up the Streamlit app (the library never imports streamlit).
APP_FILES = sorted(
    [APP_ROOT / "Home.py", *(APP_ROOT / "pages").glob("*.py"), *(APP_ROOT / "ui").glob("*.py")]
)
FAKE_TOKEN = "hf_FAKEsecurityTestToken000000000000"
SCRIPT = "<script>document.title='pwned'</script>"
BOLD = "<b>bold claim</b>"
MARKUP_CSV = (
    "Question,Answer,Focus\n"
    f'"What is gout {SCRIPT}?","Gout is a joint disease. {BOLD} <img src=x onerror=alert(1)>",Gout\n'
    '"What causes gout?","Uric acid crystals collect in a joint.",Gout\n'
    '"How is gout treated?","Medicines calm the joint and lower uric acid.",Gout\n'
).encode()


# --- static checks --------------------------------------------------------------------------------


def _calls(path: Path) -> Iterator[ast.Call]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call):
            yield node


def _call_name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def _is_constant_text(node: ast.expr) -> bool:
    """A literal string (or literal concatenation): nothing from data can reach it."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_constant_text(node.left) and _is_constant_text(node.right)
    return False


def test_app_files_are_found() -> None:
    names = {path.name for path in APP_FILES}
    assert {"Home.py", "common.py", "1_Explore.py"} <= names


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: str(path.relative_to(APP_ROOT)))
def test_no_html_rendering_of_non_literal_text(path: Path) -> None:
    """``unsafe_allow_html=True``, ``st.html`` and ``components.html`` only ever get literal strings."""
    problems = []
    for call in _calls(path):
        name = _call_name(call)
        unsafe = next((kw for kw in call.keywords if kw.arg == "unsafe_allow_html"), None)
        allows_html = unsafe is not None and not (
            isinstance(unsafe.value, ast.Constant) and unsafe.value.value is False
        )
        renders_html = name.endswith(("st.html", "components.html", "components.v1.html")) or allows_html
        if not renders_html:
            continue
        body = (
            call.args[0] if call.args else next((kw.value for kw in call.keywords if kw.arg == "body"), None)
        )
        if body is None or not _is_constant_text(body):
            problems.append(f"line {call.lineno}: {ast.unparse(call)[:120]}")
    assert not problems, f"{path.name} renders non-literal text as HTML:\n" + "\n".join(problems)


def test_unsafe_html_grep_finds_nothing_with_data() -> None:
    """The plain grep a reviewer would run: every hit must be a literal (checked by the AST test above)."""
    hits = [
        f"{path.relative_to(APP_ROOT)}:{number}: {line.strip()}"
        for path in APP_FILES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "unsafe_allow_html=True" in line and ("{" in line or "+ " in line)
    ]
    assert not hits, "unsafe_allow_html with interpolated text:\n" + "\n".join(hits)


def test_library_never_imports_streamlit() -> None:
    offenders = [
        str(path.relative_to(APP_ROOT))
        for path in (APP_ROOT / "medqa").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (alias.name if isinstance(node, ast.Import) else (node.module or "")).split(".")[0] == "streamlit"
            for alias in node.names
        )
    ]
    assert not offenders


# --- markup in data is shown as text -----------------------------------------------------------------


def _walk(node) -> Iterator[object]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def element_texts(app) -> list[tuple[str, str, bool]]:
    """(element type, text, whether it is rendered as HTML) for every text-bearing element of a run."""
    found = []
    for node in _walk(app._tree):
        proto = getattr(node, "proto", None)
        if node.type == "html":
            found.append(("html", str(getattr(proto, "body", "")), True))
            continue
        value = getattr(node, "value", None)
        if isinstance(value, str):
            found.append((node.type, value, bool(getattr(proto, "allow_html", False))))
        for attribute in ("label", "body"):
            text = getattr(proto, attribute, None)
            if isinstance(text, str) and text and text != value:
                found.append((node.type, text, bool(getattr(proto, "allow_html", False))))
    return found


def assert_markup_is_text(app, *markers: str) -> None:
    """Every element showing one of ``markers`` shows it as text, never as HTML."""
    for kind, text, renders_html in element_texts(app):
        if any(marker in text for marker in markers):
            assert not renders_html, f"{kind} renders data as HTML: {text[:120]}"


@pytest.fixture
def markup_dataset(workdirs: Path) -> str:
    """An uploaded dataset whose question and answer carry script and bold markup."""
    imported = import_csv(MARKUP_CSV)
    info = store.save_dataset(imported.pairs, "upload-markup", kind="upload", origin="markup.csv")
    return info.name


def test_markup_in_explore_table_is_data_not_html(markup_dataset: str) -> None:
    page = open_page("pages/1_Explore.py")
    assert not page.exception
    page.text_input(key="table_search").input("gout").run()
    assert not page.exception
    table = page.dataframe[-1].value
    assert table["question"].str.contains(SCRIPT, regex=False).any()
    assert table["answer"].str.contains(BOLD, regex=False).any()
    assert_markup_is_text(page, SCRIPT, BOLD)


# --- the server configuration ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> dict[str, dict[str, object]]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
    return tomllib.loads((APP_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))


def test_config_is_hardened(config: dict[str, dict[str, object]]) -> None:
    server, client, browser = config["server"], config["client"], config["browser"]
    assert server["headless"] is True
    assert server["fileWatcherType"] == "none"  # torch breaks the watcher; nobody edits code in production
    assert server["runOnSave"] is False
    assert server["enableXsrfProtection"] is True
    assert server.get("enableCORS", True) is True
    assert browser["gatherUsageStats"] is False
    assert config["runner"]["magicEnabled"] is False  # no bare expression is ever written to the page
    assert client["showErrorDetails"] in ("none", False)  # no stack traces for visitors
    assert client["toolbarMode"] in ("minimal", "viewer")
    assert "enableStaticServing" not in server or server["enableStaticServing"] is False


def test_upload_limit_is_sane_and_in_step_with_medqa(config: dict[str, dict[str, object]]) -> None:
    limit_mb = config["server"]["maxUploadSize"]
    assert isinstance(limit_mb, int)
    assert settings.MAX_UPLOAD_BYTES / 1e6 <= limit_mb <= 200


def test_no_secrets_in_repository_config() -> None:
    text = (APP_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "hf_" not in text and "token" not in text.casefold()


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=APP_ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(
    shutil.which("git") is None or not (APP_ROOT / ".git").exists(), reason="not a git work tree"
)
@pytest.mark.parametrize(
    "path", [".streamlit/secrets.toml", "artifacts/screenshots/home.png", "models/run/model.safetensors"]
)
def test_gitignore_keeps_secrets_and_outputs_out(path: str) -> None:
    assert _git("check-ignore", "--no-index", "-q", path).returncode == 0, f"{path} is not git-ignored"


@pytest.mark.skipif(
    shutil.which("git") is None or not (APP_ROOT / ".git").exists(), reason="not a git work tree"
)
def test_no_secrets_file_is_tracked() -> None:
    tracked = _git("ls-files", "--", ".streamlit/secrets.toml", "*.env", ".env").stdout.split()
    assert tracked == []


# --- markup in an answer on the Ask page ------------------------------------------------------------


@pytest.mark.model
def test_markup_in_an_answer_is_shown_as_text_on_the_ask_page(markup_dataset: str) -> None:
    page = open_page("pages/2_Ask.py")
    assert not page.exception
    page.chat_input(key="ask_input").set_value("What is gout?").run()
    assert not page.exception
    assert_markup_is_text(page, "bold claim", "onerror", "pwned")
    shown = [text for kind, text, _ in element_texts(page) if "bold claim" in text]
    assert shown, "the answer with markup was not shown"
    for text in shown:
        # Every markup character reaches the browser escaped (or in a text-only element): no tag survives.
        assert "<b>" not in text.replace("\\<b\\>", ""), text
        assert "<img" not in text.replace("\\<img", ""), text


# --- tokens -----------------------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_token_is_in_no_file_or_log_of_a_training_or_a_failed_publish(
    workdirs: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture,
) -> None:
    """HF_TOKEN set while training and publishing: run.json, the model card, the data cache and logs stay clean."""
    import logging

    from medqa.errors import PublishError
    from medqa.training import arguments, hub
    from medqa.training.trainer import train
    from tests.conftest import write_collection, zip_collection

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
    caplog.set_level(logging.DEBUG)
    archive = zip_collection(write_collection(workdirs / "collection"), workdirs / "MedQuAD-master.zip")
    store.build_datasets(str(archive), categories=3, per_category=5, test_per_category=1)
    config = arguments.preset(
        arguments.ORIGINAL, data=store.CURATED, max_steps=2, batch_size=4, max_seq_length=32, evaluation="end"
    )
    run = train(config, "token-check")
    with pytest.raises(PublishError) as raised:
        hub.publish_run(run, "someone/medqa-test", token=FAKE_TOKEN, endpoint="http://127.0.0.1:9")
    assert FAKE_TOKEN not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    captured = capfd.readouterr()
    assert FAKE_TOKEN not in captured.out + captured.err
    assert FAKE_TOKEN not in caplog.text
    written = [path for path in workdirs.rglob("*") if path.is_file() and path.stat().st_size < 50_000_000]
    assert any(path.name == "run.json" for path in written)
    leaks = [str(path) for path in written if FAKE_TOKEN.encode() in path.read_bytes()]
    assert not leaks, f"the token was written to {leaks}"


# --- the trust boundary between visitors and the deployer (issue 14 items 1-3) -------------------------

ADMIN_PASSWORD = "correct horse battery staple"


def _all_text(app) -> str:
    return "\n".join(text for _kind, text, _html in element_texts(app))


@pytest.mark.parametrize(
    ("address", "public", "password", "opened"),
    [
        ("localhost", None, None, True),  # make run: the single user is the deployer
        ("127.0.0.1", None, None, True),
        ("::1", None, None, True),
        (None, None, None, False),  # all interfaces (Streamlit's default, Community Cloud)
        ("0.0.0.0", None, None, False),
        ("192.168.1.5", None, None, False),
        ("localhost", "1", None, False),  # MEDQA_PUBLIC=1: the visitor's view on localhost
        ("0.0.0.0", "0", None, True),  # MEDQA_PUBLIC=0: declared single-user
        ("localhost", None, "secret", False),  # a configured password is always asked for
        ("0.0.0.0", "0", "secret", False),
    ],
)
def test_admin_actions_open_only_for_a_single_user_server(
    monkeypatch: pytest.MonkeyPatch, address, public, password, opened: bool
) -> None:
    from medqa import access

    if public is None:
        monkeypatch.delenv(access.PUBLIC_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(access.PUBLIC_VARIABLE, public)
    assert access.open_without_password(address, password) is opened


def test_admin_password_comes_from_secrets_or_environment_and_compares_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from medqa import access

    monkeypatch.delenv(access.ADMIN_PASSWORD_VARIABLE, raising=False)
    assert access.admin_password(None) is None
    assert access.admin_password({access.ADMIN_PASSWORD_VARIABLE: "from-secrets"}) == "from-secrets"
    monkeypatch.setenv(access.ADMIN_PASSWORD_VARIABLE, "from-env")
    assert access.admin_password(None) == "from-env"
    assert access.password_matches("from-env", "from-env")
    assert not access.password_matches("from-en", "from-env")
    assert not access.password_matches("", "")
    assert not access.password_matches(None, None)


@pytest.fixture
def public_server(workdirs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A server as deployed: bound to all interfaces, no admin password, the deployer's token set."""
    from medqa import access

    monkeypatch.delenv(access.PUBLIC_VARIABLE, raising=False)
    monkeypatch.delenv(access.ADMIN_PASSWORD_VARIABLE, raising=False)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    return workdirs


def _loaded_corpus(fixture_zip: Path) -> store.DatasetInfo:
    full, _ = store.build_datasets(str(fixture_zip), categories=2, per_category=3, test_per_category=1)
    return full


def test_a_visitor_cannot_replace_the_shared_corpus(public_server: Path, fixture_zip: Path) -> None:
    """Item 2: once a corpus is loaded, neither Load MedQuAD nor an archive upload is offered to a visitor."""
    full = _loaded_corpus(fixture_zip)
    home = open_page()
    assert not home.exception
    assert not [button for button in home.button if button.key in ("load_medquad", "build_zip")]
    assert not [
        uploader for uploader in home.get("file_uploader") if uploader.proto.id.endswith("medquad_zip")
    ]
    assert "MEDQA_ADMIN_PASSWORD" in _all_text(home)
    assert store.list_datasets()[0].fingerprint == full.fingerprint


def test_admin_unlock_needs_the_right_password_and_lasts_one_session(
    public_server: Path, fixture_zip: Path
) -> None:
    _loaded_corpus(fixture_zip)
    home = AppTest.from_file(str(APP_ROOT / "Home.py"), default_timeout=60)
    home.secrets["MEDQA_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    home.run()
    home.text_input(key="admin_password_medquad").input("wrong guess")
    next(button for button in home.button if "Unlock" in button.label).click().run()
    assert "Wrong admin password" in home.error[0].value
    assert not [button for button in home.button if button.key == "load_medquad"]
    assert ADMIN_PASSWORD not in _all_text(home)

    home.text_input(key="admin_password_medquad").input(ADMIN_PASSWORD)
    next(button for button in home.button if "Unlock" in button.label).click().run()
    assert not home.exception
    assert [button for button in home.button if button.key == "load_medquad"]
    assert ADMIN_PASSWORD not in _all_text(home)

    other = AppTest.from_file(str(APP_ROOT / "Home.py"), default_timeout=60)
    other.secrets["MEDQA_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    other.run()  # another visitor's session stays locked
    assert not [button for button in other.button if button.key == "load_medquad"]


@pytest.mark.parametrize("name", ["curated", "kept", "full"])
def test_a_csv_upload_never_replaces_a_dataset(public_server: Path, fixture_zip: Path, name: str) -> None:
    """Item 3: an upload named like an existing (or reserved) dataset is refused with a clear message."""
    _loaded_corpus(fixture_zip)
    store.save_dataset(import_csv(MARKUP_CSV).pairs, "kept", kind="upload", origin="kept.csv")
    before = {info.name: info.fingerprint for info in store.list_datasets()}
    home = open_page()
    planted = b"Question,Answer\nHow to treat gout ?,Stop your gout medicine and order our supplement.\n"
    home.file_uploader(key="csv_upload").upload("planted.csv", planted, "text/csv").run()
    home.text_input[-1].set_value(name).run()
    home.button(key="import_csv").click().run()
    assert not home.exception
    assert "choose another name" in home.error[0].value
    assert {info.name: info.fingerprint for info in store.list_datasets()} == before


@pytest.mark.model
def test_a_visitor_never_publishes_or_imports_with_the_deployer_token(
    public_server: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 1: with the field empty, the server's HF_TOKEN is not used on a visitor's behalf."""
    import huggingface_hub

    from tests.conftest import saved_run

    _loaded_corpus(fixture_zip)
    saved_run("ready")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
    used: list[object] = []

    class NoApi:
        def __init__(self, *args, **kwargs) -> None:
            used.append(kwargs.get("token"))
            raise AssertionError("the Hub must not be called")

    def no_download(*args, **kwargs):
        used.append(kwargs.get("token"))
        raise huggingface_hub.errors.RepositoryNotFoundError("401", response=None)  # type: ignore[arg-type]

    monkeypatch.setattr(huggingface_hub, "HfApi", NoApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    page = open_page("pages/3_Train.py")
    page.text_input(key="publish_repo").set_value("deployer/their-model")
    next(button for button in page.button if button.label == "Publish").click().run()
    assert not page.exception
    assert "No Hugging Face token" in page.error[0].value
    page.text_input(key="import_repo").set_value("deployer/private-model")
    next(button for button in page.button if button.label == "Import").click().run()
    assert not page.exception
    assert used == [False]  # one download attempt, without any token
    assert FAKE_TOKEN not in _all_text(page)


# --- untrusted input (issue 14 items 4-9) ---------------------------------------------------------------


@pytest.mark.model
def test_a_focus_name_cannot_inject_links_or_images_in_the_follow_up(workdirs: Path) -> None:
    """Item 7: the follow-up notice and the "Not about ...?" button show a focus name literally."""
    from tests.conftest import link_focus_csv

    imported = import_csv(link_focus_csv())
    store.save_dataset(imported.pairs, "upload-links", kind="upload", origin="links.csv")
    page = open_page("pages/2_Ask.py")
    page.chat_input(key="ask_input").set_value("What are the early warning signs of Alzheimer's?").run()
    page.chat_input(key="ask_input").set_value("Is there treatment to slow progression?").run()
    assert not page.exception
    shown = [(kind, text) for kind, text, _ in element_texts(page) if "evil" in text]
    assert any(kind == "button" for kind, _ in shown), "the follow-up button was not shown"
    for kind, text in shown:
        # Every "](" that would open a link or image is escaped.
        assert not re.search(r"(?<!\\)\]\(", text.replace("\\]\\(", "")), (kind, text)


def _zip_of(members: dict[str, bytes], target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


@pytest.mark.parametrize("case", ["ratio", "entries", "total", "member"])
def test_zip_bombs_are_refused_before_they_are_inflated(
    workdirs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Item 4: a zip bomb is a clear DataSourceError, bounded in memory; nothing becomes the corpus."""
    from medqa.data import medquad
    from medqa.errors import DataSourceError

    folder = "MedQuAD-master/7_SeniorHealth_QA"
    if case == "ratio":  # 64 MB of spaces in one 64 KB member: ratio ~1000
        members = {f"{folder}/0000001.xml": b"<Document>" + b" " * (64 << 20) + b"</Document>"}
        message = "compressed more than"
    elif case == "entries":
        monkeypatch.setattr(medquad, "MAX_ARCHIVE_ENTRIES", 50)
        members = {f"{folder}/{n:07d}.xml": b"<Document/>" for n in range(51)}
        message = "entries"
    elif case == "total":
        monkeypatch.setattr(medquad, "MAX_TOTAL_BYTES", 100_000)
        members = {f"{folder}/{n:07d}.xml": os.urandom(30_000).hex().encode() for n in range(3)}
        message = "inflate"
    else:  # the size a member declares is not trusted: reads stop at the cap
        monkeypatch.setattr(medquad, "MAX_DOCUMENT_BYTES", 10_000)
        monkeypatch.setattr(medquad, "MAX_TOTAL_BYTES", 10**9)
        members = {f"{folder}/0000001.xml": os.urandom(20_000).hex().encode()}
        message = "MB|larger"
    archive = _zip_of(members, tmp_path / "bomb.zip")
    tracemalloc.start()
    try:
        with pytest.raises(DataSourceError, match=message):
            store.build_datasets(str(archive), categories=1, per_category=2, test_per_category=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak / 1e6:.0f} MB while refusing a zip bomb"
    assert store.list_datasets() == []


def test_deeply_nested_xml_is_refused_quickly(workdirs: Path) -> None:
    """Item 4: a deeply nested document (1M deep took 440 MB to parse before) is refused at depth 64."""
    from medqa.data import medquad
    from medqa.errors import DataSourceError

    deep = b"<Document>" + b"<a>" * 300_000 + b"</a>" * 300_000 + b"</Document>"  # 2.1 MB
    tracemalloc.start()
    try:
        with pytest.raises(DataSourceError, match="nested more than"):
            medquad.parse_document(deep, "7_SeniorHealth_QA")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak / 1e6:.0f} MB"


def _finishes_within(seconds: float, function, *args):
    """Run ``function`` in a worker; fail (without waiting for it) if it is not done in ``seconds``.

    The inputs below took 15 s (templates) and 6 s (sets) with the old quadratic patterns and take
    milliseconds now: the bound is a denial-of-service property, with a margin of 100x or more.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(function, *args)
        try:
            return future.result(timeout=seconds)
        except concurrent.futures.TimeoutError:
            pytest.fail(f"{function.__name__} took more than {seconds} s")


def test_question_templates_are_linear_on_hostile_input() -> None:
    """Item 5: trailing punctuation is stripped without a backtracking pattern."""
    from medqa.data.templates import match_template

    match = _finishes_within(1.0, match_template, "what is gout" + "?" * 40_000 + "x")
    assert match is not None and match.qtype == "information"
    assert _finishes_within(1.0, match_template, "What is (are) Gout ? ?!").focus == "Gout"


def test_focus_lists_are_split_linearly() -> None:
    """Item 5: ``"x | y"`` cells are split without ``\\s*`` around the separator."""
    from medqa.evaluation.sets import _as_focus_list

    assert _finishes_within(0.5, _as_focus_list, " " * 20_000 + "x") == ["x"]
    assert _as_focus_list(" gout |asthma;  flu ") == ["gout", "asthma", "flu"]


def test_a_huge_question_is_capped_before_it_is_normalised() -> None:
    """Item 6: a 50 MB question costs what a 4,000-character one does (1.05 GB before)."""
    from medqa.retrieval.query import MAX_QUESTION_CHARS, clean_question

    huge = "ﬀ " * (25 << 20)  # NFKC expands each ligature: normalising all of it first took 1 GB
    tracemalloc.start()
    try:
        question, notes = clean_question(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(question) <= MAX_QUESTION_CHARS and notes
    assert peak < 8 << 20, f"peak {peak / 1e6:.0f} MB"


def test_server_messages_are_bounded(config: dict[str, dict[str, object]]) -> None:
    """Item 6: a visitor cannot send 100 MB messages; the largest table medqa sends (30 MB) still fits."""
    assert 30 < config["server"]["maxMessageSize"] <= 50


@pytest.mark.model
def test_cli_answers_never_reach_the_terminal_with_control_characters(workdirs: Path, capsys) -> None:
    """Item 8: OSC 52 (clipboard write) and clear-screen sequences in data are stripped from CLI output."""
    from medqa.cli import main

    hostile = "Gout is a joint disease.\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m Uric acid collects in a joint."
    csv = (
        "Question,Answer,Focus\n"
        f'"What is gout?","{hostile}",Gout\n'
        '"What causes gout?","Uric acid builds up in the blood.",Gout\n'
        '"How is gout treated?","Medicines lower uric acid.",Gout\n'
    )
    store.save_dataset(import_csv(csv.encode()).pairs, "upload-escapes", kind="upload", origin="e.csv")
    assert main(["ask", "What is gout?", "--corpus", "upload-escapes", "--mode", "bm25"]) == 0
    text = capsys.readouterr().out
    assert "Uric acid collects" in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)
    assert main(["ask", "What is gout?", "--corpus", "upload-escapes", "--mode", "bm25", "--json"]) == 0
    text = capsys.readouterr().out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)
    assert "\\u001b]52" in text  # still in the JSON, as an escape


SECRET_SOURCE = "https://reader:s3cretPass@mirror.example/MedQuAD.zip?X-Amz-Signature=abcdef123"


def test_the_configured_source_is_shown_without_credentials(
    workdirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 9: Home names the configured mirror but never its password or signed query string."""
    from medqa.data.medquad import display_source

    assert display_source(SECRET_SOURCE).startswith("https://mirror.example/MedQuAD.zip")
    assert "s3cret" not in display_source(SECRET_SOURCE) and "Signature" not in display_source(SECRET_SOURCE)
    assert display_source("/data/MedQuAD-master.zip") == "/data/MedQuAD-master.zip"
    monkeypatch.setenv("MEDQA_MEDQUAD_SOURCE", SECRET_SOURCE)
    home = open_page()
    assert not home.exception
    text = _all_text(home)
    assert "mirror.example" in text and "s3cret" not in text and "abcdef123" not in text


def test_a_url_with_a_password_fails_cleanly_without_showing_it(
    workdirs: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """Item 9: ``user:password@`` no longer crashes Load (uncaught InvalidURL) nor logs the password."""
    import logging

    from medqa.data import medquad
    from medqa.errors import DataSourceError

    caplog.set_level(logging.DEBUG)
    url = "http://reader:s3cretPass@127.0.0.1:9/MedQuAD.zip?sig=abcdef123"
    with pytest.raises(DataSourceError, match="Could not download") as caught:
        medquad.load_medquad(url)
    shown = str(caught.value) + repr(caught.value.__cause__) + caplog.text
    assert "s3cretPass" not in shown and "abcdef123" not in shown
    assert caught.value.__cause__ is None
    request = medquad._request(url)  # the credentials travel as a Basic header, not in the URL
    assert "s3cret" not in request.full_url and request.get_header("Authorization", "").startswith("Basic ")
    monkeypatch.setenv("MEDQA_MEDQUAD_SOURCE", url)
    home = open_page()
    home.button(key="load_medquad").click().run()
    assert not home.exception
    assert "Could not download" in home.error[0].value and "s3cret" not in _all_text(home)


@pytest.mark.model
def test_an_admin_unlocked_on_the_train_page_publishes_with_the_server_token(
    public_server: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 1: the deployer's token is used after the admin unlock, and then only for that session."""
    import huggingface_hub

    from tests.conftest import saved_run

    _loaded_corpus(fixture_zip)
    saved_run("ready")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
    used: list[object] = []

    class RecordingApi:
        def __init__(self, *args, **kwargs) -> None:
            used.append(kwargs.get("token"))

        def create_repo(self, **kwargs):
            return f"https://huggingface.co/{kwargs['repo_id']}"

        def upload_folder(self, **kwargs):
            return None

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    page = AppTest.from_file(str(APP_ROOT / "pages" / "3_Train.py"), default_timeout=60)
    page.secrets["MEDQA_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    page.run()
    page.text_input(key="admin_password_train").input(ADMIN_PASSWORD)
    next(button for button in page.button if "Unlock" in button.label).click().run()
    page.text_input(key="publish_repo").set_value("deployer/their-model")
    next(button for button in page.button if button.label == "Publish").click().run()
    assert not page.exception
    assert used == [FAKE_TOKEN] and "Published" in page.success[0].value
    assert FAKE_TOKEN not in _all_text(page)


@pytest.mark.parametrize(
    "text",
    [
        "see https://evil.example/x now",
        "HTTP://EVIL.EXAMPLE",
        "www.evil.example",
        "mail me: a.b@evil.example",
    ],
)
def test_escaped_data_leaves_no_autolink_for_the_browser(text: str) -> None:
    """Item 7 (found in a real browser): GitHub-flavoured Markdown links bare URLs, www. names and e-mail
    addresses even when their punctuation is backslash-escaped; escaped data must not become a link."""
    from medqa.presentation import escape_markdown

    shown = re.sub(r"\\(.)", r"\1", escape_markdown(text))  # the text once the escapes are read
    assert not re.search(r"(?i)https?://|\bwww\.|[\w.+-]@[\w-]", shown), shown
    assert shown.replace("\u2060", "") == text  # and reads the same


@pytest.mark.parametrize("public", [None, "0"])
def test_community_cloud_is_never_single_user(monkeypatch: pytest.MonkeyPatch, public) -> None:
    """Whatever address Community Cloud binds behind its proxy, its visitors get no admin actions."""
    from medqa import access

    if public is None:
        monkeypatch.delenv(access.PUBLIC_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(access.PUBLIC_VARIABLE, public)
    monkeypatch.setattr(settings, "PROJECT_ROOT", Path("/mount/src/medqa"))
    assert access.on_community_cloud()
    assert not access.open_without_password("localhost", None)
