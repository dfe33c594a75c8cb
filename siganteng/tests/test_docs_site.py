"""The documentation site's structure: every page is reachable from the nav, and every
nav entry exists (``mkdocs build --strict``, run by ``make docs``, checks links and
everything else)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
DOCS = BASE_DIR / "docs"


def nav_pages(node) -> list[str]:
    """Every page path in a mkdocs nav tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    return []


def _config() -> dict:
    # mkdocs.yml holds no custom tags; safe_load reads it.
    return yaml.safe_load((BASE_DIR / "mkdocs.yml").read_text())


def test_every_nav_entry_exists():
    missing = [page for page in nav_pages(_config()["nav"]) if not (DOCS / page).exists()]
    assert not missing, f"nav entries with no file in docs/: {missing}"


def test_every_page_is_in_the_nav():
    listed = set(nav_pages(_config()["nav"]))
    pages = {page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md")}
    assert not pages - listed, f"pages missing from mkdocs.yml's nav: {sorted(pages - listed)}"


def test_every_adr_is_numbered_and_has_the_four_parts():
    adrs = sorted((DOCS / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
    numbers = [int(path.name[:4]) for path in adrs]
    assert numbers == list(range(1, len(adrs) + 1)), "ADR numbers must run 0001, 0002, … without gaps"
    index = (DOCS / "adr" / "index.md").read_text()
    for path in adrs:
        text = path.read_text()
        assert text.startswith(f"# ADR {path.name[:4]}: "), path.name
        for part in ("## Context", "## Decision", "## Consequences", "## Alternatives"):
            assert part in text, f"{path.name} has no {part!r}"
        assert f"]({path.name})" in index, f"{path.name} is not listed in docs/adr/index.md"


def test_the_readme_stays_short_and_its_links_resolve():
    readme = (BASE_DIR / "README.md").read_text()
    assert len(readme.splitlines()) <= 200, "README.md is the front page: keep it to about 200 lines"
    assert "make run" in readme.split("\n## ", 1)[0] and "make test" in readme.split("\n## ", 1)[0]
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [target for target in targets if "://" not in target]
    assert local, "the README links into docs/"
    broken = [target for target in local if not (BASE_DIR / target).exists()]
    assert not broken, f"README.md links to missing files: {broken}"
