"""The ``hotline`` command's layout: lazily loaded groups that list what they really hold."""

from __future__ import annotations

import ast
from pathlib import Path

import click
from click.testing import CliRunner

from hotline import cli

CLI_DIR = Path(cli.__file__).parent


def test_help_lists_every_command_with_its_own_summary() -> None:
    """``hotline --help`` reads the summaries from COMMANDS without importing the commands;
    they read as the commands' own docstrings would."""
    loaded = {name: entry.load(name) for name, entry in cli.COMMANDS.items()}
    eager = click.Group("main", help=cli.main.help, commands=loaded)
    runner = CliRunner()
    lazy_help = runner.invoke(cli.main, ["--help"])
    assert lazy_help.exit_code == 0
    assert lazy_help.output == runner.invoke(eager, ["--help"]).output
    assert all(command.name == name for name, command in loaded.items())


def test_an_unknown_command_is_refused() -> None:
    result = CliRunner().invoke(cli.main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its syntax tree."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
            found.add(node.module)
    return found


def test_command_modules_share_only_the_context() -> None:
    """No command module imports another (so none can import in a circle), and every import
    is at module level."""
    modules = {path.stem for path in CLI_DIR.glob("*.py")} - {"__init__", "__main__"}
    for path in CLI_DIR.glob("*.py"):
        siblings = {
            name.split(".")[2] for name in imports_of(path) if name.startswith("hotline.cli.")
        }
        if path.stem in modules:
            assert siblings <= {"context"}, f"{path.name} imports {siblings}"
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        nested = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top_level
        ]
        assert not nested, f"{path.name}: imports inside functions at lines {nested}"
    assert {entry.module for entry in cli.COMMANDS.values()} == modules - {"context"}
