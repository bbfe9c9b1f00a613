"""The project's layers point one way: import-linter checks the contracts in pyproject.toml.

The second test breaks a layer on purpose in a copy of the code, so a contract that stopped checking
anything (a renamed package, a typo in a layer) fails here instead of passing quietly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "memory", "personas", "safety")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                           "sys.exit(lint_imports_command())", "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_layers_and_cycle_contracts_are_kept() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_an_upward_import_from_the_core_breaks_the_layers(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.npz",
                                                                                          "*.jsonl", "*.toml"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    errors = tmp_path / "app" / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _upward():\n    from app.service import ChatService  # noqa: F401\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "Front ends, service, personas | safety, memory, core BROKEN" in done.stdout
    assert "app.core.errors -> app.service" in done.stdout
