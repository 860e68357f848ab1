"""The Binder image: repo2docker reads binder/, gets Python 3.12 and installs evlab itself."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_binder_files_ask_for_a_recent_python_and_install_evlab():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.12"
    # evlab with its dask extra: notebook 05 sweeps on a LocalCluster
    assert "-e .[dask]" in (ROOT / "binder" / "requirements.txt").read_text().splitlines()


def test_repo2docker_plans_that_image():
    repo2docker = shutil.which("repo2docker") or str(
        Path(__import__("sys").executable).parent / "repo2docker")
    out = subprocess.run([repo2docker, "--no-build", "--debug", str(ROOT)], capture_output=True,
                         text=True, timeout=300, check=True)
    plan = out.stdout + out.stderr
    assert "python=3.12" in plan
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in plan
