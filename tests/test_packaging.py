"""One installed import name: the built wheel installs `mimicry` only, and it works from a folder
that has its own `data/` and `experiments/` packages (the commonest names in research repos)."""

from __future__ import annotations

import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_installs_one_name_that_works_beside_user_packages(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("mimicry-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"mimicry"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "mimicry/distill/organism/weights/teacher/model.safetensors" in names
    assert "mimicry/data/builtin/ccobra/3ps.csv" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # the dependencies come from this interpreter's site-packages (no download); mimicry itself
    # only from the wheel (a .pth-added folder's own .pth files, e.g. an editable install, are
    # not processed)
    target = next(Path(p) for p in site.getsitepackages() if Path(p).is_dir())
    (
        env_dir
        / "lib"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / "site-packages"
        / "deps.pth"
    ).write_text(str(target) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    user = tmp_path / "user_project"
    for package in ("data", "experiments"):
        (user / package).mkdir(parents=True)
        (user / package / "__init__.py").write_text("raise ImportError('the user package')\n")
        (user / package / "items.py").write_text("raise ImportError('the user module')\n")
    probe = (
        "import mimicry, mimicry.data.items, mimicry.experiments.cli, mimicry.distill.organism as o;"
        "print(mimicry.__file__); print(o.TEACHER_DIR.is_dir())"
    )
    shown = subprocess.run(
        [str(python), "-c", probe], cwd=user, capture_output=True, text=True, timeout=300
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    location, weights = shown.stdout.split()
    assert str(env_dir) in location and weights == "True"
    cli = subprocess.run(
        [str(env_dir / "bin" / "mimicry"), "--help"],
        cwd=user,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0 and "demo" in cli.stdout, cli.stderr[-2000:]
