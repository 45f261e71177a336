"""environment.yml (conda users) and pyproject.toml (pip users) list the same dependencies."""

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
    return dict(_split(s) for s in data["project"]["dependencies"])


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
