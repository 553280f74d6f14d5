"""The house rules of lib/emseg, read from the source with ast: imports go down the layers
(command line -> applications -> train/infer/metrics -> models/losses -> data -> helpers),
no module imports another module's private names or another package's private modules,
and the top-level units import each other without circles."""
import ast
import sys
from collections import defaultdict
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib" / "emseg"
# the top-level units of emseg (a module or a package) by layer, lowest first
LAYERS = (
    {"atomic", "_padding", "_validate", "device", "resample", "report", "plot"},  # helpers
    {"data", "augment"},
    {"models", "losses", "checkpoint", "tfcheckpoint", "weights"},
    {"train", "infer", "blockwise", "metrics", "baselines", "pretrained"},
    {"ecs", "ecs_workflow", "tracing", "workflow", "templates", "config", "bioimageio"},
    {"cli", "run", "__main__"},  # the command line
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _module(path):
    parts = list(path.relative_to(LIB.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """``(importer, is_package, imported module, names)`` for every emseg import in lib."""
    for path in sorted(LIB.rglob("*.py")):
        module, is_pkg = _module(path), path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:  # from .x import y: made absolute
                base = (module if is_pkg else module.rsplit(".", 1)[0]).split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                yield module, is_pkg, target, [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emseg"):
                yield module, is_pkg, node.module, [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("emseg"):
                        yield module, is_pkg, alias.name, []


def _unit(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_unit_has_a_layer():
    units = {p.stem if p.suffix == ".py" else p.name for p in LIB.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").is_file()}
    assert units <= set(RANK), f"give these a layer in tests/test_architecture.py: {units - set(RANK)}"


def test_imports_go_down_the_layers():
    upward = sorted({(m, t) for m, _, t, _ in _imports()
                     if _unit(m) and _unit(t) and _unit(m) != _unit(t)
                     and RANK[_unit(m)] < RANK[_unit(t)]})
    assert not upward, f"imports up the layers (importer, imported): {upward}"


def test_no_private_names_or_modules_of_others():
    bad = []
    for module, is_pkg, target, names in _imports():
        package = module if is_pkg else module.rsplit(".", 1)[0]
        parts = target.split(".")
        for i, part in enumerate(parts[1:], 1):
            holder = ".".join(parts[:i])  # the package that holds the private module
            if part.startswith("_") and not (package == holder or package.startswith(holder + ".")):
                bad.append((module, target))
        private_module = parts[-1].startswith("_") and package == ".".join(parts[:-1])
        for name in names:
            if name.startswith("_") and not name.startswith("__") and not private_module:
                bad.append((module, f"{target}.{name}"))
    assert not bad, f"private imports (make the name public or move it): {sorted(set(bad))}"


def test_no_import_circles_between_units():
    graph = defaultdict(set)
    for module, _, target, _ in _imports():
        a, b = _unit(module), _unit(target)
        if a and b and a != b:
            graph[a].add(b)

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    circles = sorted({tuple(sorted((a, b))) for a in list(graph) for b in graph[a] if a in reach(b)})
    assert not circles, f"import circles between units: {circles}"


def test_the_checks_catch_what_they_look_for(tmp_path, monkeypatch):
    pkg = tmp_path / "emseg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("from emseg.cli import main\n")
    (pkg / "cli.py").write_text("from emseg.data._volume import Volume\nfrom emseg.data import _x\n")
    monkeypatch.setattr(sys.modules[__name__], "LIB", pkg)
    for check in (test_imports_go_down_the_layers, test_no_private_names_or_modules_of_others,
                  test_no_import_circles_between_units):
        try:
            check()
        except AssertionError:
            continue
        raise AssertionError(f"{check.__name__} passed on a package that breaks its rule")


def test_relative_imports_are_read_as_absolute(tmp_path, monkeypatch):
    pkg = tmp_path / "emseg"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "metrics" / "__init__.py").write_text("from .binary import hd95\n")
    (pkg / "metrics" / "binary.py").write_text("from .._validate import _check\nfrom ..cli import x\n")
    monkeypatch.setattr(sys.modules[__name__], "LIB", pkg)
    found = {(m, t, tuple(n)) for m, _, t, n in _imports()}
    assert found == {("emseg.metrics", "emseg.metrics.binary", ("hd95",)),
                     ("emseg.metrics.binary", "emseg._validate", ("_check",)),
                     ("emseg.metrics.binary", "emseg.cli", ("x",))}
