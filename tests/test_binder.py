"""Binder works: launch links from one repository setting, chapters open as notebooks, the image
is built with its data, and the Binder environment admits every version the tests ran with
(issue 15)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
# the one source of truth for the repository's address (a fork changes it there)
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
# conda-forge names that differ from the PyPI names in requirements.lock
CONDA_TO_PYPI = {"pytorch-cpu": "torch", "open-clip-torch": "open-clip-torch"}


def binder_url(path: str = "book/00-tour.md") -> str:
    """The mybinder.org launch URL of a file: pyproject.toml's repository, book/_config.yml's branch."""
    slug = REPOSITORY.removeprefix("https://github.com/").rstrip("/")
    branch = CONFIG["repository"]["branch"]
    return f"{CONFIG['launch_buttons']['binderhub_url']}/v2/gh/{slug}/{branch}?urlpath=lab/tree/{path}"


def locked_versions() -> dict[str, str]:
    """``requirements.lock`` as {canonical name: version} (local tags such as +cu130 dropped)."""
    versions = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";")[0].split("==")
            versions[canonicalize_name(name.strip())] = version.strip().split("+")[0]
    return versions


def environment_specs() -> dict[str, SpecifierSet]:
    """Every conda and pip dependency of environment.yml as {PyPI name: version range}."""
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    entries: list[str] = []
    for item in spec["dependencies"]:
        entries += item["pip"] if isinstance(item, dict) else [item]
    ranges = {}
    for entry in entries:
        name, version = re.match(r"([A-Za-z0-9_.\-]+)(.*)", entry).groups()  # type: ignore[union-attr]
        if name in ("python", "pip"):
            continue
        if version.startswith("=") and not version.startswith("=="):  # conda's exact match
            version = "=" + version
        ranges[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = SpecifierSet(version)
    return ranges


def test_launch_buttons_come_from_the_one_repository_setting() -> None:
    assert REPOSITORY.startswith("https://github.com/"), "pyproject.toml: Binder's launch links need a GitHub repository"
    assert CONFIG["repository"]["url"] == REPOSITORY, f"book/_config.yml: set `repository: url: {REPOSITORY}` (pyproject.toml's)"
    assert CONFIG["repository"]["branch"] and CONFIG["repository"]["path_to_book"] == "book"
    assert CONFIG["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert CONFIG["launch_buttons"]["notebook_interface"] == "jupyterlab"


def test_readme_badge_points_at_the_configured_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"({binder_url()})" in readme, f"README.md: the Binder badge must link to {binder_url()} (pyproject.toml's repository)"


def test_postbuild_opens_chapters_as_notebooks_and_builds_the_data() -> None:
    post = (ROOT / ".binder" / "postBuild").read_text()
    assert "jupytext-config set-default-viewer" in post
    assert "pip install --no-deps -e ." in post
    assert "--execute" in post and "book/00-tour.md" in post  # examples, sample corpus, captions, the model
    assert (ROOT / ".binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_environment_admits_every_locked_version() -> None:
    locked = locked_versions()
    specs = environment_specs()
    missing = sorted(name for name in specs if name not in locked)
    assert not missing, f"environment.yml names packages that requirements.lock does not pin: {missing}"
    refused = {name: (locked[name], str(spec)) for name, spec in specs.items() if locked[name] not in spec}
    assert not refused, f"environment.yml refuses the versions the tests ran with (version, range): {refused}"


def test_environment_pins_the_python_of_the_lock() -> None:
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(item for item in spec["dependencies"] if isinstance(item, str) and item.startswith("python="))
    assert python.removeprefix("python=").startswith("3.12"), "the lock was made with Python 3.12"
