"""environment.yml (conda users) and pyproject.toml (pip users) list the same dependencies.

pyproject.toml keeps runtime dependencies (what the package imports, and the Jupyter pieces
that run its notebooks) apart from the ``test`` extra; environment.yml lists both, since a conda
user who wants to run the tests has no extra to ask for.
"""

import re
import tomllib

import yaml

from tests.helpers import ROOT

# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pyyaml": "pyyaml"}


def _split(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return dict(_split(s) for s in deps)


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = _split(dep)
            if name in {"python", "pip"}:
                continue
            out[CONDA_TO_PYPI.get(name, name)] = spec
    return out


def test_environment_yml_and_pyproject_list_the_same_packages():
    assert sorted(_conda()) == sorted(_pyproject())


def test_environment_yml_and_pyproject_use_the_same_version_ranges():
    py, conda = _pyproject(), _conda()
    differing = {n: (py[n], conda.get(n)) for n in py if conda.get(n) != py[n]}
    assert not differing, f"Version ranges differ (pyproject, environment.yml): {differing}"


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_parts = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_parts and "-e ." in pip_parts[0]


def test_test_only_tools_are_not_runtime_dependencies():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = {_split(s)[0] for s in data["project"]["dependencies"]}
    assert not runtime & {"pytest", "hypothesis", "lifelines"}, "test tools in runtime dependencies"
    assert {_split(s)[0] for s in data["project"]["optional-dependencies"]["test"]} >= {
        "pytest", "hypothesis"}


def test_every_third_party_package_the_source_imports_is_a_runtime_dependency():
    import ast
    import sys

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = {_split(s)[0] for s in data["project"]["dependencies"]}
    import_names = {"yaml": "pyyaml", "IPython": "ipython"}
    missing = {}
    for path in (ROOT / "src" / "evaluation").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and not node.level
                     and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in {"evaluation", "__future__"}:
                    continue
                if import_names.get(top, top) not in runtime:
                    missing[top] = path.name
    assert not missing, f"imported but not a runtime dependency: {missing}"
