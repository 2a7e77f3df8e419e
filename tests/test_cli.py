"""End to end as a user types it: the JSON CLI, corpus import, and the console adapter fed through stdin."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.console import ConsoleSession, run_console
from bot.cli import main
from bot.core import BriefingBot
from briefings.loading import load_corpus

from .conftest import DEFAULT_CORPUS, FIXTURES, ROOT
from .grounding import assert_whole_sentences

ARTICLES = {a.doc_id: a for a in load_corpus(DEFAULT_CORPUS)}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def check_citation(citation: dict[str, object]) -> None:
    assert set(citation) == {"doc_id", "title", "url", "quote"}
    article = ARTICLES[str(citation["doc_id"])]
    assert citation["title"] == article.title
    assert_whole_sentences(article, str(citation["quote"]))


def test_brief_json(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    """brief --json prints headline, summary, cited takeaways and sources."""
    code, out, _ = run_cli(capsys, "--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "brief", "--json")
    assert code == 0
    data = json.loads(out)
    assert isinstance(data["headline"], str) and isinstance(data["summary"], str) and data["summary"]
    assert 5 <= len(data["takeaways"]) <= 8
    assert data["headline_citation"]
    check_citation(data["headline_citation"])
    assert data["summary_citations"]
    for citation in data["summary_citations"]:
        check_citation(citation)
    for takeaway in data["takeaways"]:
        assert isinstance(takeaway["text"], str) and takeaway["text"]
        assert takeaway["citations"], takeaway  # every takeaway cites at least one article
        for citation in takeaway["citations"]:
            check_citation(citation)
    assert len(data["sources"]) == 5


def test_takeaways_json_for_story_and_topic(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    """takeaways --json gives topic null for the story and the topic's name when one is given."""
    base = ["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "takeaways"]
    code, out, _ = run_cli(capsys, *base, "--json")
    assert code == 0 and json.loads(out)["topic"] is None
    code, out, _ = run_cli(capsys, *base, "NATO", "--json")
    data = json.loads(out)
    assert code == 0 and data["topic"] == "NATO" and data["takeaways"]
    for takeaway in data["takeaways"]:
        assert takeaway["citations"], takeaway
        for citation in takeaway["citations"]:
            check_citation(citation)


def test_ask_json_answer_decline_and_thread(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    """ask --json answers with citations and a thread id; --thread continues it; off-corpus is answered: false."""
    base = ["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "ask"]
    code, out, _ = run_cli(capsys, *base, "What did Bob Woodward allege?", "--json")
    first = json.loads(out)
    assert code == 0 and first["answered"] is True and first["thread"]
    assert first["citations"] and "seven" in first["answer"]
    for citation in first["citations"]:
        check_citation(citation)
    code, out, _ = run_cli(capsys, *base, "How did the Kremlin respond to that?", "--thread", first["thread"], "--json")
    follow = json.loads(out)
    assert follow["thread"] == first["thread"] and "flatly denied" in follow["answer"]
    code, out, _ = run_cli(capsys, *base, "What is the capital of France?", "--json")
    declined = json.loads(out)
    assert declined["answered"] is False and declined["citations"] == []


def test_sources_json(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    """sources --json lists each article with id, title, url, origin, summary and takeaways."""
    code, out, _ = run_cli(capsys, "--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "sources", "--json")
    sources = json.loads(out)["sources"]
    assert code == 0 and len(sources) == 5
    for source in sources:
        assert {"doc_id", "title", "url", "origin", "summary", "takeaways"} <= set(source)
        assert source["summary"] and 3 <= len(source["takeaways"]) <= 6


def test_environment_variables_point_at_corpus_and_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BRIEFBOT_CORPUS and BRIEFBOT_DATA work like --corpus and --data; a new data directory is built on first use."""
    monkeypatch.setenv("BRIEFBOT_CORPUS", str(DEFAULT_CORPUS))
    monkeypatch.setenv("BRIEFBOT_DATA", str(tmp_path / "fresh"))
    code, out, _ = run_cli(capsys, "sources", "--json")
    assert code == 0 and len(json.loads(out)["sources"]) == 5
    assert (tmp_path / "fresh" / "index.sqlite3").exists() and (tmp_path / "fresh" / "state.sqlite3").exists()


def test_bad_cli_input_gets_a_clear_error(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    """An empty question exits 2 with a message; an unknown subcommand is an argparse usage error."""
    code, _, err = run_cli(capsys, "--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "ask", "  ", "--json")
    assert code == 2 and "add a question" in err
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_bad_timezone_setting_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    """An unknown timezone in the configuration stops the command with a message naming the setting."""
    monkeypatch.setenv("BRIEFBOT_TIMEZONE", "Mars/Olympus")
    code, _, err = run_cli(capsys, "--data", str(data_dir), "sources")
    assert code == 2 and "unknown timezone" in err


def test_corpus_import_cli_reports_each_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """corpus import names each failure on stderr, imports the rest, and exits 1 when anything failed."""
    corpus = tmp_path / "corpus"
    raw = FIXTURES / "raw"
    code, out, err = run_cli(
        capsys, "--corpus", str(corpus), "corpus", "import", str(raw / "notes.md"), str(raw / "broken.txt")
    )
    assert code == 1
    assert "broken.txt" in err and "binary" in err
    assert "1 added, 0 updated, 0 unchanged, 1 failed" in out
    code, out, _ = run_cli(capsys, "--corpus", str(corpus), "corpus", "import", str(raw / "notes.md"))
    assert code == 0 and "0 added, 0 updated, 1 unchanged, 0 failed" in out


def test_console_follow_ups_and_new_thread(bot: BriefingBot) -> None:
    """In the console a plain line follows up the last answer; /new starts over; a plain line first is refused."""
    out = io.StringIO()
    session = ConsoleSession(bot, out)
    session.handle_line("How did the Kremlin respond to that?")
    assert "Start with a command" in out.getvalue()
    session.handle_line("/ask What did Bob Woodward allege?")
    session.handle_line("How did the Kremlin respond to that?")
    assert "flatly denied the report" in out.getvalue()
    session.handle_line("/new")
    assert session.thread is None
    assert session.handle_line("/quit") is False


def test_console_reads_piped_commands(bot: BriefingBot) -> None:
    """With stdin not a terminal, the console runs one command per line and returns at end of input."""
    stdin = io.StringIO("/brief\n/ask When did Trump and Putin speak by phone this year?\n/bogus\n")
    out = io.StringIO()
    assert run_console(bot, stdin, out) == 0
    text = out.getvalue()
    assert "Sources:" in text and "February 12" in text and "don't know the command '/bogus'" in text


def test_briefbot_run_in_a_subprocess_prints_briefing_and_answer(tmp_path: Path) -> None:
    """`briefbot run` with no tokens and piped stdin prints a briefing and an answer that names its source."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "BRIEFBOT_"))}
    env["BRIEFBOT_DATA"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        input="/brief\n/ask When did Trump and Putin speak by phone this year?\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Sources:" in result.stdout
    assert "one on February 12 and another on March 18" in " ".join(result.stdout.split())  # wrapped at any width
    assert "Donald Trump, Putin’s “Ally” In Plain Sight?" in result.stdout


def test_ask_batch_mode_answers_each_line_in_order(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ask --json - reads one question per line and prints one JSON object per line; a bad line gets an error."""
    lines = ["What did Witkoff receive in Moscow?", "", "x" * 600, "What is the tallest mountain in Africa?"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = run_cli(capsys, "--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "ask", "--json", "-")
    replies = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(replies) == 3
    assert replies[0]["answered"] is True and "beautiful portrait" in replies[0]["answer"]
    assert replies[0]["citations"]
    for citation in replies[0]["citations"]:
        check_citation(citation)
    assert "error" in replies[1] and "under 500" in replies[1]["error"] and replies[1]["question"] == "x" * 200
    assert replies[2]["answered"] is False and replies[2]["citations"] == []
    assert replies[0]["thread"] != replies[2]["thread"]


def test_ask_batch_mode_with_a_thread_asks_follow_ups_in_order(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --thread, every line continues the same thread, so a script can ask a follow-up."""
    base = ["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "ask"]
    code, out, _ = run_cli(capsys, *base, "Who is Vyacheslav Nikonov?", "--json")
    thread = json.loads(out)["thread"]
    questions = "What did Bob Woodward allege?\nHow did the Kremlin respond to that?\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(questions))
    code, out, _ = run_cli(capsys, *base, "--json", "--thread", thread, "-")
    first, follow = (json.loads(line) for line in out.splitlines())
    assert code == 0 and first["thread"] == follow["thread"] == thread
    assert follow["answered"] is True and "flatly denied" in follow["answer"]


def test_ask_batch_mode_on_empty_input_prints_nothing(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty stdin is no error: no output, exit 0."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out, _ = run_cli(capsys, "--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "ask", "--json", "-")
    assert code == 0 and out == ""
