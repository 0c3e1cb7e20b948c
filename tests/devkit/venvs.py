"""A fresh virtual environment that sees this environment's packages (tether, pytest ...),
the way a plugin author's environment has tether installed.

``python -m venv`` from inside a virtual environment bases the new one on the *system*
interpreter, so ``--system-site-packages`` would not show this environment's packages;
a ``.pth`` file adds this environment's site-packages (and its ``.pth`` files, such as
tether's editable install) to the new one instead. Installing needs no network:
``--no-index --no-build-isolation`` builds with the setuptools already here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path


def make_venv(path: Path) -> Path:
    """Create the environment; return its python."""
    venv.EnvBuilder(with_pip=False).create(path)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "_tether_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def add_tools(python: Path) -> None:
    """``pip`` and ``pytest`` commands in the environment's ``bin``, as an author's has.

    ``pip`` is this environment's pip aimed at the new one (``--python``), offline;
    ``pytest`` runs the new environment's python.
    """
    bin_dir = python.parent
    shims = {
        "pip": f'exec {sys.executable} -m pip --python {python} "$@"\n',
        "pytest": f'exec {python} -m pytest "$@"\n',
    }
    for name, body in shims.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)


def pip_install(python: Path, *packages: Path, editable: bool = True) -> subprocess.CompletedProcess:
    """``pip install -e`` into the environment of ``python``, with this environment's pip."""
    args = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
            "--no-index", "--no-build-isolation"]
    for package in packages:
        args += ["-e", str(package)] if editable else [str(package)]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: offline pip, and no PostgreSQL suite (the main
    suite runs that)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TETHER_TEST_POSTGRES_URL", "PYTEST_ADDOPTS", "VIRTUAL_ENV", "PYTHONPATH")}
    # pip reads PIP_NO_BUILD_ISOLATION=0 as "no build isolation": build with setuptools already here.
    env.update({"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    env.update(extra)
    return env
