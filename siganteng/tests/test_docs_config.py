"""The configuration reference lists exactly the variables siganteng/settings.py reads,
with the defaults the code has.

The variables come from the settings' source (every call of a siganteng/env.py reader),
the documented ones from the table in docs/reference/configuration.md. A failure names
each variable that is missing, extra or documented with another default, so whoever adds
a variable knows which row to write.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from siganteng.tests.docs_config import SETTINGS_PATH, EnvVar, format_default, settings_env_vars

CONFIG_PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "configuration.md"
_ROW = re.compile(r"^\|\s*`(?P<name>[A-Z][A-Z0-9_]*)`\s*\|(?P<default>[^|]*)\|(?P<meaning>[^|]*)\|\s*$")


def documented_variables(page: Path = CONFIG_PAGE) -> dict[str, tuple[str, str]]:
    """``name -> (default cell, meaning)`` for the rows of the page's "Every variable" table."""
    text = page.read_text()
    section = text.split("## Every variable", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            if match["name"] in rows:
                raise AssertionError(f"{match['name']} is listed twice in {page.name}")
            rows[match["name"]] = (match["default"].strip(), match["meaning"].strip())
    return rows


def default_problem(var: EnvVar, cell: str) -> str | None:
    """Why the documented default ``cell`` does not match the code, or None when it does.

    A literal default is the cell's first code span (``—`` for none); a default derived
    from other settings (``$VAR_DIR/db.sqlite3``) must name each setting it depends on."""
    if var.depends_on:
        missing = [name for name in var.depends_on if name not in cell]
        return f"its default depends on {', '.join(missing)}; say how" if missing else None
    span = re.search(r"`([^`]*)`", cell)
    documented = span.group(1) if span else cell
    if documented != var.default:
        return f"documented default {documented!r}, settings.py has {var.default!r}"
    return None


def test_the_settings_are_parsed_from_their_source():
    found = settings_env_vars()
    # Spot checks that the parser reads defaults the way the code evaluates them.
    assert found["DEBUG"] == EnvVar("DEBUG", "false")
    assert found["UPLOAD_MAX_BYTES"].default == str(20 * 1024 * 1024)
    assert found["EMBEDDER"].default == "none"
    assert found["SQLITE_PATH"].depends_on == ("VAR_DIR",)
    assert format_default([]) == "—" and format_default(True) == "true" and format_default(0.5) == "0.5"


def test_every_variable_the_settings_read_is_documented_with_its_default():
    code = settings_env_vars()
    docs = documented_variables()
    problems = []
    for name, var in code.items():
        if name not in docs:
            problems.append(f"missing from {CONFIG_PAGE.name}: {name} (default {var.default!r})")
            continue
        cell, meaning = docs[name]
        if not meaning:
            problems.append(f"{name}: no description")
        why = default_problem(var, cell)
        if why:
            problems.append(f"{name}: {why}")
    for name in docs.keys() - code.keys():
        problems.append(f"documented in {CONFIG_PAGE.name} but not read by {SETTINGS_PATH.name}: {name}")
    assert not problems, "\n".join(problems)


def test_it_names_the_variable_that_drifted(tmp_path):
    """The failure message is what a maintainer fixes the table from: it must name the row."""
    page = tmp_path / "configuration.md"
    text = CONFIG_PAGE.read_text()
    text = re.sub(r"^\| `KB_PG_MATCH_BUDGET` \|[^\n]*\n", "", text, flags=re.M)
    text = text.replace("| `DEBUG` | `false` |", "| `DEBUG` | `true` |")
    text = text.replace("## Every variable\n", "## Every variable\n\n| `NOT_A_SETTING` | — | nothing |\n", 1)
    page.write_text(text)
    docs = documented_variables(page)
    code = settings_env_vars()
    assert "KB_PG_MATCH_BUDGET" not in docs
    assert default_problem(code["DEBUG"], docs["DEBUG"][0]) == "documented default 'true', settings.py has 'false'"
    assert "NOT_A_SETTING" in docs.keys() - code.keys()


def test_a_variable_read_twice_must_keep_one_default(tmp_path):
    settings = tmp_path / "settings.py"
    settings.write_text('A = env_int("X", 1)\nB = env_int("X", 2)\n')
    with pytest.raises(ValueError, match="X is read twice"):
        settings_env_vars(settings)
