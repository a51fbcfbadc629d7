"""Docs that cannot drift: the README names every CLI command and the two set-up commands."""

from __future__ import annotations

from server.cli import build_parser
from server.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_readme_documents_every_cli_command() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices
    missing = [name for name in commands if f"regiongis {name}" not in README]
    assert not missing, f"README.md does not document: {missing}"


def test_readme_documents_every_setting() -> None:
    missing = [n for n in Settings.model_fields if f"RGIS_{n.upper()}" not in README]
    assert not missing, f"README.md does not document: {missing}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()
