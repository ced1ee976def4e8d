"""The sdist and wheel a user gets from PyPI: built here from this checkout, then inspected.

The sdist must hold every file the README and docs tell a reader to use (scripts/test.sh,
mkdocs.yml, compose/...), the wheel its licence and ``py.typed`` markers, and a bare
``pip install anymq`` (pluggy only, no extra) must give a working ``anymq`` command.
Built offline with ``python -m build --no-isolation``: build, hatchling and twine come from
the dev extra (scripts/setup.sh installs them). Marked ``packaging`` (``-m packaging``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest

import anymq

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
NAME, VERSION = PROJECT["name"], PROJECT["version"]

pytestmark = pytest.mark.packaging

# Paths a newcomer is told to use; the scan below must find them too (or it scans nothing).
NAMED = (
    "scripts/test.sh",
    "scripts/main.sh",
    "scripts/setup.sh",
    "scripts/brokers.sh",
    "scripts/aiokafka-low.sh",
    "compose/docker-compose.yml",
    ".ci/run",
    "examples/orders/orders.py",
    "benchmarks/bench.py",
)
# Needed though no page spells the path: `mkdocs build` (README) reads mkdocs.yml.
IMPLIED = ("mkdocs.yml", "LICENSE", "pyproject.toml", "README.md")
_PATH = re.compile(r"(?<![\w/.:@-])((?:\.?[\w-]+/)+[\w.-]*|[\w-]+\.(?:yml|toml|md|sh|py))")
_GITHUB = re.compile(
    r"https://(?:github\.com/anymq/anymq/(?:blob|tree)|raw\.githubusercontent\.com/anymq/anymq)"
    r"/main/([^)\s\"'#]+)"
)


def _ignored(path: str) -> bool:
    """Whether a top-level .gitignore pattern covers the path (.cache/, .venv/, reports/...):
    those are made by the scripts, not shipped."""
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(part, p) for part in Path(path).parts for p in patterns)


def referenced_paths() -> set[str]:
    """Every repository file or folder README.md and docs/ name, in text or as a link."""
    found: set[str] = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        candidates = {m.rstrip("/.") for m in _PATH.findall(text)} | set(_GITHUB.findall(text))
        for candidate in candidates:
            path = candidate.rstrip("/")
            if path and (ROOT / path).exists() and not _ignored(path):
                found.add(path)
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel built from it, as ``python -m build`` makes them for PyPI."""
    missing = [m for m in ("build", "hatchling") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed in {sys.prefix}: run scripts/setup.sh "
            "(the dev extra has build, hatchling and twine)"
        )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


def _sdist_names(dist: Path) -> set[str]:
    (sdist,) = dist.glob(f"{NAME}-{VERSION}.tar.gz")
    prefix = f"{NAME}-{VERSION}/"
    with tarfile.open(sdist) as tar:
        return {m.name.removeprefix(prefix) for m in tar.getmembers() if m.isfile()}


def _wheel_names(dist: Path) -> set[str]:
    (wheel,) = dist.glob(f"{NAME}-{VERSION}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_the_scan_finds_the_paths_the_readme_names() -> None:
    assert set(NAMED) <= referenced_paths()


_DOCS_SITE = "https://anymq.readthedocs.io/en/latest/"


def test_readme_links_are_absolute_and_point_at_real_files() -> None:
    """PyPI shows the README without the repository around it: every link and image is an
    absolute URL, and those into this project name a file or docs page that exists."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets, "no links found"
    assert [t for t in targets if not t.startswith(("https://", "#"))] == []
    broken = []
    for target in targets:
        url = target.split("#", 1)[0]
        if url.startswith(_DOCS_SITE):
            page = url.removeprefix(_DOCS_SITE).strip("/") or "index"
            if not any((ROOT / "docs" / p).is_file() for p in (f"{page}.md", f"{page}/index.md")):
                broken.append(target)
        elif (match := _GITHUB.match(url)) and not (ROOT / match[1]).exists():
            broken.append(target)
        elif "anymq" in url and not (url.startswith(_DOCS_SITE) or _GITHUB.match(url)):
            broken.append(target)  # a project URL of another shape than the two above
    assert broken == []
    urls = PROJECT["urls"]
    assert urls["Documentation"] == _DOCS_SITE
    assert {urls["Homepage"], urls["Source"]} == {"https://github.com/anymq/anymq"}


def test_sdist_has_every_path_the_readme_and_docs_name(dist: Path) -> None:
    names = _sdist_names(dist)
    wanted = referenced_paths() | set(NAMED) | set(IMPLIED)
    missing = sorted(
        path
        for path in wanted
        if path not in names and not any(n.startswith(path + "/") for n in names)
    )
    assert not missing, f"the sdist lacks {missing}"


def test_sdist_scripts_stay_executable(dist: Path) -> None:
    (sdist,) = dist.glob(f"{NAME}-{VERSION}.tar.gz")
    with tarfile.open(sdist) as tar:
        modes = {
            m.name.split("/", 1)[1]: m.mode for m in tar.getmembers() if m.name.endswith(".sh")
        }
    assert modes, "no shell script in the sdist"
    assert {path: oct(mode) for path, mode in modes.items() if not mode & 0o100} == {}


def test_sdist_has_no_build_or_cache_debris(dist: Path) -> None:
    debris = [n for n in _sdist_names(dist) if _ignored(n) or "__pycache__" in n]
    assert debris == []


def test_wheel_has_license_and_typed_markers(dist: Path) -> None:
    names = _wheel_names(dist)
    info = f"{NAME}-{VERSION}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    packages = [
        Path(p).name for p in PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    ]
    assert sorted(p for p in packages if f"{p}/py.typed" not in names) == []


def test_wheel_metadata_is_what_pypi_shows(dist: Path) -> None:
    (wheel,) = dist.glob(f"{NAME}-{VERSION}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"{NAME}-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {anymq.__version__}\n" in meta  # pyproject and __init__ agree
    assert meta.startswith("Metadata-Version: 2.4\n")  # 2.5 fails twine check before twine 7
    assert "License-Expression: MIT" in meta
    # PyPI refuses 'License ::' classifiers next to a licence expression (PEP 639).
    assert "Classifier: License ::" not in meta
    urls = dict(re.findall(r"^Project-URL: ([^,]+), (\S+)$", meta, re.MULTILINE))
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues"}
    assert "Classifier: Typing :: Typed" in meta
    # Relative links and images would break on PyPI's project page.
    body = meta.split("\n\n", 1)[1]
    relative = re.findall(r"\]\((?!https?://|#)([^)]*)\)", body)
    assert relative == []


def _wheel_from_installed(distribution: str, out: Path) -> Path:
    """A wheel of an installed pure-Python distribution, repacked from its files, so the
    fresh-venv test installs its dependency offline."""
    dist = importlib.metadata.distribution(distribution)
    files = [
        f
        for f in dist.files or []
        if ".." not in f.parts
        and "__pycache__" not in f.parts
        and f.name not in {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    ]
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    wheel = out / f"{info.removesuffix('.dist-info')}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel, "w") as zf:
        for f in files:
            data = Path(str(f.locate())).read_bytes()
            digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            zf.writestr(f.as_posix(), data)
            record.append(f"{f.as_posix()},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ANYMQ_"))}
"""No PYTHONPATH: the fresh venv must import the installed wheel, not this checkout."""

_ROUNDTRIP = """
import asyncio, anymq

async def main():
    async with anymq.connect("memory://") as broker:
        await broker.create_topic("t", groups=["g"])
        async with broker.producer() as producer:
            await producer.send("t", b"hi")
        async with broker.consumer("t", group="g") as consumer:
            async for msg in consumer:
                await msg.ack()
                print(msg.value.decode(), anymq.__file__)
                break

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def bare_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install anymq`` and no extra, installed offline from a
    wheelhouse holding only pluggy: a requirement that is not optional fails the install."""
    tmp = tmp_path_factory.mktemp("bare")
    house = tmp / "wheels"
    house.mkdir()
    _wheel_from_installed("pluggy", house)
    (wheel,) = dist.glob(f"{NAME}-{VERSION}-py3-none-any.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "-q", "--disable-pip-version-check", "--no-index", "--find-links", str(house),
         "--no-cache-dir", str(wheel)],
        env=_ENV, capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, f"pip install anymq (pluggy only):\n{install.stderr}"
    return venv


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        env=_ENV, cwd=venv, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_bare_install_needs_nothing_but_pluggy(bare_venv: Path) -> None:
    assert _run(bare_venv, "python", "-c", "import rich").returncode != 0, "rich got installed"
    roundtrip = _run(bare_venv, "python", "-c", _ROUNDTRIP)
    assert roundtrip.returncode == 0, roundtrip.stderr
    value, where = roundtrip.stdout.split()
    assert value == "hi"
    assert Path(where).is_relative_to(bare_venv), "imported anymq from outside the venv"


def test_bare_install_runs_the_anymq_command(bare_venv: Path) -> None:
    """``pip install anymq`` alone gives a working ``anymq`` command (plain text output)."""
    version = _run(bare_venv, "anymq", "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"anymq {VERSION}"), version.stderr
    usage = _run(bare_venv, "anymq", "--help")
    assert usage.returncode == 0, usage.stderr
    assert "backends" in usage.stdout
    # without rich, tables are tab-separated lines (src/anymq/cli_output.py)
    backends = _run(bare_venv, "anymq", "backends")
    assert backends.returncode == 0, backends.stderr
    assert "memory://\tmemory\tyes\t" in backends.stdout
    compare = _run(bare_venv, "anymq", "compare", "memory://")
    assert compare.returncode == 2, compare.stderr
    assert "pip install 'anymq[compare]'" in compare.stderr
