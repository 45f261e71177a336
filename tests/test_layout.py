"""The layout of the package: imports run one way and nobody borrows another module's privates.

The stages, lowest first (a module may import from its own stage and from any lower one):

0. ``errors``, ``checks``, ``docstrings``, ``disclosure`` — the base every stage uses;
1. ``data`` — dictionary, reading, validation, pseudonymisation, synthetic data, loading;
2. ``models`` — survival, Cox, Fine–Gray, multi-state, effects, comparison;
3. ``measures`` — outcome measures and costs (they use models);
4. ``reporting`` — catalogs, notes, plots, report sections, the report runner;
5. ``cli`` (and the package's ``__init__``) on top.

The graph is read from the source with :mod:`ast` (every ``import`` statement, also those
inside functions), so a lazy import the wrong way fails as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "src" / "evaluation"
STAGES = {"errors": 0, "checks": 0, "docstrings": 0, "disclosure": 0, "data": 1, "models": 2, "measures": 3,
          "reporting": 4, "cli": 5, "__init__": 5, "portal": 5}
MAX_LINES = 800


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _stage(module: str) -> int:
    """Stage of a module named ``evaluation.<first>...``."""
    parts = module.split(".")
    first = parts[1] if len(parts) > 1 else "__init__"
    if first not in STAGES:
        raise AssertionError(f"{module}: its folder {first!r} has no stage in tests/test_layout.py")
    return STAGES[first]


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) of every import of the package in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names
                    if a.name.split(".")[0] == "evaluation"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "evaluation":
                out.append((node.lineno, target, [a.name for a in node.names]))
    return out


def _target_module(target: str, name: str) -> str:
    """``from target import name``: the module meant (``name`` may itself be a module)."""
    candidate = PACKAGE.parent / Path(*f"{target}.{name}".split("."))
    if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
        return f"{target}.{name}"
    return target


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way_from_data_to_models_to_measures_to_reporting(path):
    module = _module_name(path)
    own = _stage(module)
    wrong = []
    for line, target, names in _imports(path):
        for dep in ([_target_module(target, n) for n in names] or [target]):
            if dep != "evaluation" and _stage(dep) > own:
                wrong.append(f"line {line}: {module} (stage {own}) imports {dep} "
                             f"(stage {_stage(dep)})")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_uses_a_private_name_of_another_module(path):
    module = _module_name(path)
    tree = ast.parse(path.read_text("utf-8"))
    bound: dict[str, str] = {}   # local name -> evaluation module it stands for
    wrong = []
    for line, target, names in _imports(path):
        for name in names:
            dep = _target_module(target, name)
            if dep == target and name.startswith("_") and not name.startswith("__") and target != module:
                wrong.append(f"line {line}: imports {name} from {target}")
            if dep != target:
                bound[name] = dep
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.asname and a.name in bound:
                    bound[a.asname] = bound.pop(a.name)
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in bound and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            wrong.append(f"line {node.lineno}: uses {bound[node.value.id]}.{node.attr}")
    assert not wrong, f"{module} borrows private names:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_source_module_is_much_over_800_lines(path):
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES * 1.1, f"{path.name} has {lines} lines: it likely holds two jobs"


@pytest.mark.parametrize("stage", ["data", "models", "measures", "reporting", "disclosure"])
def test_every_stage_has_an_explicit_facade_without_lazy_loading(stage):
    import importlib

    facade = PACKAGE / stage / "__init__.py"
    tree = ast.parse(facade.read_text("utf-8"))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "__getattr__" not in functions, f"{stage}/__init__.py loads names lazily"
    mod = importlib.import_module(f"evaluation.{stage}")
    assert mod.__all__, f"evaluation.{stage} lists no public names"
    for name in mod.__all__:
        obj = getattr(mod, name)   # every listed name is really there
        home = getattr(obj, "__module__", None)
        if home is not None and isinstance(home, str) and home.startswith("evaluation."):
            assert home.startswith(f"evaluation.{stage}"), (
                f"evaluation.{stage}.{name} is defined in {home}: one address per name")


def test_the_layout_test_catches_an_import_against_the_flow(tmp_path):
    """The checker itself: a models module importing reporting is found."""
    fake = PACKAGE / "models" / "results.py"
    imports = _imports(fake)
    assert all(_stage(_target_module(t, n)) <= 2 for _, t, ns in imports for n in ns or [t])
    bad = tmp_path / "bad.py"
    bad.write_text("from evaluation.reporting import overview\n")
    found = [(t, n) for _, t, ns in _imports_of_text(bad) for n in ns]
    assert found == [("evaluation.reporting", "overview")]
    assert _stage(_target_module("evaluation.reporting", "overview")) == 4


def _imports_of_text(path: Path) -> list[tuple[int, str, list[str]]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
    return out
