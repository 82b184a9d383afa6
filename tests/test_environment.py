"""The three descriptions of the environment agree, and this environment matches them.

``pyproject.toml`` is the source of truth; ``requirements.txt`` (pip, used by ``make``)
and ``environment.yml`` (conda, Binder) must install the same thing: Python 3.11, the
CPU build of torch at one pinned version, and the package with its test and book extras.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
REQUIRED = [
    "numpy",
    "pandas",
    "networkx",
    "cvxpy",
    "altair",
    "vl-convert-python",
    "ipywidgets",
    "torch",
    "tqdm",
]


def _reqs(lines) -> dict[str, Requirement]:
    out = {}
    for line in lines:
        r = Requirement(line)
        out[canonicalize_name(r.name)] = r
    return out


def _requirements_txt() -> list[str]:
    lines = []
    for raw in (ROOT / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def _environment_yml() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _conda_deps(env: dict) -> tuple[list[str], list[str]]:
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += [str(p).strip() for p in dep.get("pip", [])]
        else:
            conda.append(str(dep).strip())
    return conda, pip


def _pinned_torch(lines: list[str]) -> str:
    pins = [ln for ln in lines if re.match(r"^torch\s*==", ln)]
    assert len(pins) == 1, f"expected one exact torch pin, found {pins}"
    return pins[0].replace(" ", "")


def test_pyproject_lists_required_dependencies():
    deps = _reqs(PROJECT["dependencies"])
    missing = [n for n in REQUIRED if canonicalize_name(n) not in deps]
    assert not missing, f"pyproject.toml [project].dependencies lacks {missing}"


def test_pyproject_extras_exist():
    extras = PROJECT["optional-dependencies"]
    for name in ("test", "book"):
        assert extras.get(name), f"extra {name!r} missing or empty"
    book = _reqs(extras["book"])
    assert "jupyter-book" in book and "sphinx-mathjax-offline" in book
    # Jupyter Book 2 downloads its theme at build time: stay on v1.
    assert not book["jupyter-book"].specifier.contains("2.0.0")
    assert book["jupyter-book"].specifier.contains("1.0.4")
    test = _reqs(extras["test"])
    for name in ("pytest", "nbval", "playwright", "hypothesis"):
        assert name in test, f"test extra lacks {name}"
    # runtime="ray": Ray pinned to the release it was built and tested against
    assert _reqs(extras["ray"])["ray"].specifier == SpecifierSet("==2.60.0")


def test_python_is_311_everywhere():
    assert SpecifierSet(PROJECT["requires-python"]).contains("3.11")
    conda, _ = _conda_deps(_environment_yml())
    pythons = [d for d in conda if d.startswith("python")]
    assert pythons == ["python=3.11"], pythons
    assert "pip" in conda


def test_environment_yml_installs_what_requirements_txt_installs():
    env = _environment_yml()
    assert env["name"] == "ssloserve"
    assert "conda-forge" in env.get("channels", [])
    _, pip = _conda_deps(env)
    req = _requirements_txt()
    norm = lambda xs: sorted(x.replace(" ", "") for x in xs)  # noqa: E731
    assert norm(pip) == norm(req), f"environment.yml pip {pip} != requirements.txt {req}"


def test_torch_pin_is_the_same_and_allowed_by_pyproject():
    req_pin = _pinned_torch(_requirements_txt())
    _, pip = _conda_deps(_environment_yml())
    assert _pinned_torch(pip) == req_pin
    version = req_pin.split("==", 1)[1]
    torch_spec = _reqs(PROJECT["dependencies"])["torch"].specifier
    assert torch_spec.contains(version), f"pyproject torch{torch_spec} excludes {version}"


def test_requirements_install_the_package_with_test_and_book_extras():
    editable = [ln for ln in _requirements_txt() if ln.startswith("-e")]
    assert len(editable) == 1
    m = re.fullmatch(r"-e\s*\.\[([a-z,\s]+)\]", editable[0])
    assert m, editable[0]
    extras = {e.strip() for e in m.group(1).split(",")}
    assert {"test", "book", "ray"} <= extras  # make test runs the Ray tests too
    assert extras <= set(PROJECT["optional-dependencies"])


def _installed(name: str) -> Version | None:
    try:
        return Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        return None


@pytest.mark.parametrize("extra", [None, "test", "book", "ray"])
def test_this_environment_satisfies_pyproject(extra):
    lines = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    bad = []
    for line in lines:
        r = Requirement(line)
        if r.marker is not None and not r.marker.evaluate():
            continue
        v = _installed(r.name)
        if v is None or not r.specifier.contains(v, prereleases=True):
            bad.append(f"{r} (installed: {v})")
    assert not bad, "run `make setup`; not satisfied: " + ", ".join(bad)


def test_running_python_and_torch_match_the_pins():
    assert sys.version_info[:2] == (3, 11), sys.version
    pin = _pinned_torch(_requirements_txt()).split("==", 1)[1]
    installed = _installed("torch")
    assert installed is not None and installed.base_version == Version(pin).base_version
