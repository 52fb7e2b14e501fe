"""An install built from pyproject.toml (not only the editable one that scripts/setup.sh and the
image make) holds every file the packages read at run time: the SQL migrations, the dashboard's
static files and the divisions table. Before, package-data named only ``sql/*.sql``, so a wheel
served no dashboard and its governance hub could not read its divisions. setuptools' build_py
(what a wheel packs) is run into a temporary folder from a copy of the tracked files."""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("graph", "streams", "sql")


def _tracked_data_files() -> set[str]:
    out = subprocess.run(["git", "ls-files", *PACKAGES], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return {p for p in out if not p.endswith(".py")}


@pytest.mark.skipif(not (PROJECT_ROOT / ".git").exists(), reason="needs the git checkout (its tracked files)")
def test_a_built_install_holds_every_data_file_the_packages_track(tmp_path):
    wanted = _tracked_data_files()
    assert "streams/service/static/index.html" in wanted and "streams/governance/data/divisions.csv" in wanted
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    src = tmp_path / "src"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src)
    # The working tree's pyproject.toml, not HEAD's: the one under test.
    (src / "pyproject.toml").write_bytes((PROJECT_ROOT / "pyproject.toml").read_bytes())
    build = tmp_path / "build"
    run = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                          "--build-lib", str(build)], cwd=src, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    built = {str(p.relative_to(build)) for p in build.rglob("*") if p.is_file() and p.suffix != ".py"}
    assert wanted - built == set(), sorted(wanted - built)
