"""The set-up files agree with each other (issue: foundation)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from the PyPI names in pyproject.toml
CONDA_TO_PYPI = {"pytorch-cpu": "torch", "open-clip-torch": "open_clip_torch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_packages(path: Path) -> set[str]:
    spec = yaml.safe_load(path.read_text())
    names: set[str] = set()
    for entry in spec["dependencies"]:
        if isinstance(entry, dict):
            names |= {_name(p) for p in entry["pip"]}
        elif _name(entry) not in {"python", "pip"}:
            names.add(_name(CONDA_TO_PYPI.get(_name(entry), _name(entry))))
    return names


def test_environment_yml_names_the_same_packages_as_pyproject() -> None:
    required = {_name(dep) for dep in _pyproject()["project"]["dependencies"]}
    assert _environment_packages(ROOT / "environment.yml") == required


def test_binder_environment_is_the_same_file() -> None:
    assert (ROOT / ".binder" / "environment.yml").read_text() == (ROOT / "environment.yml").read_text()


def test_python_is_pinned_exactly_for_binder() -> None:
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = [d for d in spec["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert python and re.fullmatch(r"python=3\.12\.\d+", python[0])


def test_lock_file_pins_every_dependency_exactly() -> None:
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[_name(name)] = version
    project = _pyproject()["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    missing = {_name(dep) for dep in wanted} - set(lock)
    assert not missing, f"requirements.lock lacks {sorted(missing)}"


def test_python_version_file_selects_312() -> None:
    assert (ROOT / ".python-version").read_text().strip() == "3.12"
    assert sys.version_info[:2] >= (3, 12)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith(("#", "set ", "cd "))]
    assert ci_lines[-1] == "make test"
    # before it, only the install of Debian's chromium for tests/test_browser.py (skipped if present)
    assert all("chromium" in ln or ln in ("apt-get update", "fi") for ln in ci_lines[:-1]), ci_lines
    assert "make test" in readme and "make tour" in readme


def test_console_script_answers_help() -> None:
    out = subprocess.run([sys.executable, "-m", "closp_lite.cli", "--help"], capture_output=True, text=True, check=True)
    assert "closp-lite" in out.stdout
