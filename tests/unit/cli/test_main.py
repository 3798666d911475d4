"""The command line as an operator meets it: --config at any level and CRUCIAL_CONFIG for every
subcommand, exit codes, --version, init, the password prompt, progress only on a terminal."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import streams.cli.main as cli
from streams.cli.config import STARTER
from streams.pipeline.progress import Progress
from tests.support import REPO


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _positionals(parser: argparse.ArgumentParser) -> list[str]:
    """Made-up values for the positional arguments and the required options."""
    values = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or (action.option_strings and not action.required):
            continue
        values += [action.option_strings[0]] if action.option_strings else []
        values.append(str(next(iter(action.choices))) if action.choices else "x")
    return values


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """Every runnable command path (("profiles", "load"), ...) with made-up positional arguments."""
    children = _subparsers(parser)
    if not children:
        yield path, _positionals(parser)
    for name, child in children.items():
        yield from _commands(child, (*path, name))


COMMANDS = list(_commands(cli.build_parser()))
IDS = [" ".join(path) for path, _ in COMMANDS]


def test_the_walk_finds_the_nested_commands() -> None:
    assert {"worker", "check-config", "init", "profiles load", "profiles delete", "incident show", "dev broker"} <= set(IDS)


@pytest.mark.parametrize(("path", "positionals"), COMMANDS, ids=IDS)
def test_config_is_taken_wherever_it_is_given(
    path: tuple[str, ...], positionals: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRUCIAL_CONFIG", "/from/environment")
    # At the top level, after each level of subcommand, and at the end.
    places = [["--config", "/given", *path, *positionals]]
    places += [[*path[:i], "--config", "/given", *path[i:], *positionals] for i in range(1, len(path) + 1)]
    places.append([*path, *positionals, "--config", "/given"])
    for argv in places:
        assert cli.parse_args(argv).config == Path("/given"), argv
    assert cli.parse_args([*path, *positionals]).config == Path("/from/environment")
    monkeypatch.delenv("CRUCIAL_CONFIG")
    assert cli.parse_args([*path, *positionals]).config == Path("config")


def test_without_config_a_config_directory_as_working_directory_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRUCIAL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.parse_args(["check-config"]).config == Path("config")  # neither: the error will name ./config
    assert cli.main(["init", "."]) == 0
    assert cli.parse_args(["check-config"]).config == Path(".")
    assert cli.main(["check-config"]) == 0
    (tmp_path / "config").mkdir()
    assert cli.parse_args(["check-config"]).config == Path("config")  # ./config first, as documented


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("crucial ")


def test_a_usage_error_exits_2_and_an_invalid_config_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["check-config", "--no-such-option"])
    assert exited.value.code == 2
    assert cli.main(["check-config", "--config", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "no such config directory" in err and "crucial init" in err and "Traceback" not in err


def test_init_writes_a_starter_that_check_config_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "etc" / "crucial"
    assert cli.main(["init", str(target)]) == 0
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in STARTER.glob("*.yaml"))
    assert all(p.read_text().startswith("#") for p in target.iterdir())  # commented, every file
    assert cli.main(["check-config", "--config", str(target)]) == 0
    assert f"{target}: OK" in capsys.readouterr().out
    # A second init never overwrites an operator's files.
    (target / "routing.yaml").write_text("# mine\nrules: []\n")
    assert cli.main(["init", str(target)]) == 1
    assert (target / "routing.yaml").read_text() == "# mine\nrules: []\n"


def test_kafka_unreachable_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """A closed port: kafka-python gives up after its bootstrap timeout (30 s), the CLI says so once."""
    subprocess.run([sys.executable, "-m", "streams.cli.main", "init", str(tmp_path / "x")], check=True, capture_output=True)
    settings = tmp_path / "x" / "settings.yaml"
    settings.write_text(settings.read_text().replace("bootstrap: 127.0.0.1:9092", "bootstrap: 127.0.0.1:1"))
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "profiles", "--config", str(tmp_path / "x"), "delete", "prof-1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kafka unreachable at 127.0.0.1:1:"), result.stderr
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr


def test_hash_password_does_not_echo_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from streams.web import auth

    asked: list[str] = []

    def getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return "correct horse battery"

    monkeypatch.setattr("getpass.getpass", getpass)
    monkeypatch.setattr(sys, "stdin", _Tty(""))
    assert auth.main(["hash-password"]) == 0
    out = capsys.readouterr().out
    assert asked == ["password: ", "again: "]
    assert out.startswith("password_hash: $argon2id$") and "correct horse" not in out


def test_hash_password_reads_a_pipe() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.web.auth", "hash-password"], input="piped password 123\n", capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("password_hash: $argon2id$")
    assert "piped password" not in result.stdout + result.stderr


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    ticks = iter(range(100))
    shown = _Tty()
    progress = Progress("profiles sent", 100_000, stream=shown, every_s=1, clock=lambda: float(next(ticks)))
    progress.update(40_000)
    progress.finish()
    assert "profiles sent: 40,000 / 100,000" in shown.getvalue()
    piped = io.StringIO()
    quiet = Progress("profiles sent", 100_000, stream=piped)
    quiet.update(40_000)
    quiet.finish()
    assert piped.getvalue() == ""
