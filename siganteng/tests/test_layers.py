"""The apps import one way (the import-linter contract in pyproject.toml), so `make test`
fails on an import cycle the same way CI's lint step does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_it_keeps_the_layers_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_it_breaks_the_contract_on_an_upward_function_local_import(tmp_path):
    # The same contract against a copy whose lowest app imports the top one inside a
    # function: the check must see it, or the test above proves nothing.
    for package in ("siganteng", "tenants", "knowledge", "jobs", "chat", "followups"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "siganteng" / "late.py").write_text("def f():\n    from followups import views  # noqa\n")
    (tmp_path / "followups" / "views.py").write_text("")
    config = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(config.replace('"siganteng.tests.** -> **",', ""))
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "siganteng.late -> followups.views" in result.stdout
