"""The layout of the emseg.cli package: every command group's commands are parsed and
run, each command once, and the command-group modules import each other without circles
(and never the package itself, which imports them all)."""
import argparse
import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "lib" / "emseg" / "cli"


def test_every_command_of_the_groups_is_a_subcommand_once():
    import emseg.cli
    from emseg.cli import COMMANDS, _parser

    names = [name for group in emseg.cli._GROUPS for name in group.COMMANDS]
    assert len(names) == len(set(names)), f"a command in two groups: {sorted(names)}"
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(emseg.cli._LISTED)  # the order of --help
    assert set(sub.choices) == set(COMMANDS) == set(names)


def test_the_command_groups_import_each_other_without_circles():
    graph = {}
    for path in sorted(CLI.glob("*.py")):
        if path.name == "__init__.py":
            continue
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emseg.cli"):
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names if a.name.startswith("emseg.cli"))
        assert "emseg.cli" not in imported, f"{path.name} imports the package emseg.cli"
        graph[f"emseg.cli.{path.stem}"] = imported

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    circles = sorted(m for m in graph if m in reach(m))
    assert not circles, f"import circles among the cli modules: {circles}"
