"""The project's documentation: no dead relative link, no missing cited section, cli.md current."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CITATION = re.compile(r"docs/([\w.-]+\.md)(#[\w-]+)?")
OLD_CITATION = re.compile(r"\b(?:CLI|FORMATS|ARCHITECTURE|REFERENCE-INDEX)\.md\b|shared/docs")


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rules) gives a heading."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    found = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return frozenset(found)


def markdown_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_slug_rules() -> None:
    assert slug(" The Darshan dict") == "the-darshan-dict"
    assert slug("lctl dl") == "lctl-dl"
    assert slug("summarize_job") == "summarize_job"
    assert slug("`cache_darshan` (one log)") == "cache_darshan-one-log"


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    dead = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            dead.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            dead.append(f"{target}: no section #{anchor} in {linked.name}")
    assert not dead, f"{page.relative_to(ROOT)}: " + "; ".join(dead)


def python_sources() -> list[Path]:
    return sorted((ROOT / "atokio").rglob("*.py"))


def test_cited_sections_exist() -> None:
    missing = []
    cited = 0
    for source in [*python_sources(), *markdown_pages()]:
        for number, line in enumerate(source.read_text().splitlines(), start=1):
            for page, anchor in CITATION.findall(line):
                cited += 1
                where = f"{source.relative_to(ROOT)}:{number}"
                target = DOCS / page
                if not target.exists():
                    missing.append(f"{where}: docs/{page} does not exist")
                elif anchor and anchor[1:] not in anchors(target):
                    missing.append(f"{where}: docs/{page} has no section {anchor}")
    assert not missing, "\n".join(missing)
    assert cited > 0


def test_no_citation_of_documents_outside_the_repository() -> None:
    stale = [
        f"{source.relative_to(ROOT)}:{number}: {line.strip()}"
        for source in [*python_sources(), ROOT / "README.md", *DOCS.glob("*.md")]
        for number, line in enumerate(source.read_text().splitlines(), start=1)
        if OLD_CITATION.search(line)
    ]
    assert not stale, "cite docs/<page>.md#<section> instead:\n" + "\n".join(stale)


def test_cli_page_matches_the_parsers() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-cli-docs"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_page_names_every_tool() -> None:
    from atokio.cli import TOOLS

    sections = anchors(DOCS / "cli.md")
    assert {tool for tool in TOOLS} <= sections
    assert "conventions" in sections


ENV_READ = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
KEY_READ = re.compile(r"""CONFIG(?:\.get\(|\[)\s*["']([a-z][a-z0-9_]+)["']""")


def test_configuration_page_names_every_key_and_variable() -> None:
    """A configuration key or environment variable read in the code is described in configuration.md."""
    page = (DOCS / "configuration.md").read_text()
    undocumented = set()
    for source in python_sources():
        text = source.read_text()
        for name in ENV_READ.findall(text) + KEY_READ.findall(text):
            if f"`{name}`" not in page:
                undocumented.add(f"{name} ({source.relative_to(ROOT)})")
    assert not undocumented, "add to docs/configuration.md: " + ", ".join(sorted(undocumented))


def test_configuration_page_names_every_limit() -> None:
    from atokio.collectors.limits import DEFAULTS

    page = (DOCS / "configuration.md").read_text()
    missing = [
        name
        for name in DEFAULTS
        if f"`ATOKIO_{name}`" not in page or f"`{name.lower()}`" not in page
    ]
    assert not missing, "add to the Limits of docs/configuration.md: " + ", ".join(missing)
