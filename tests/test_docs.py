"""The docs the code cites exist: every ``docs/<file>.md#<anchor>`` reference in the repository and
every relative Markdown link resolves to a file and a heading, nothing cites reference files that
live outside the repository, and every method's parameters are documented in its section of
docs/methods.md."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

from codesign.methods import METHODS, list_methods

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("codesign", "tests", "benchmarks", "docs", "hls_templates", "models", "sweeps")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".txt", ".h", ".toml"}
CITATION = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
MD_LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#([^)\s]+))?\)")
# reference notes kept outside the repository (developers' copies); users do not have them
OUTSIDE = re.compile(r"(METHODS|SIMULATOR|SEEDS)(\.md| ?§)|\.\./shared|shared/(papers|data)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> Set[str]:
    seen: Dict[str, int] = {}
    out = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        base = slug(line.lstrip("#"))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def text_files() -> List[Path]:
    files = [p for p in ROOT.glob("*.md")]
    for top in SCANNED:
        files += [p for p in (ROOT / top).rglob("*") if p.is_file() and p.suffix in SUFFIXES
                  and "__pycache__" not in p.parts]
    return sorted(set(files))


def _check(target: Path, anchor: str | None, where: str, problems: List[str]) -> None:
    if not target.is_file():
        problems.append(f"{where}: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} "
                        f"does not exist")
    elif anchor and anchor not in anchors(target):
        problems.append(f"{where}: no heading '#{anchor}' in {target.relative_to(ROOT)}")


def test_docs_folder_has_the_pages_the_code_cites():
    for name in ("README.md", "methods.md", "simulator.md", "devices.md", "references.md"):
        assert (ROOT / "docs" / name).is_file(), name
    assert (ROOT / "CONTRIBUTING.md").is_file()


def test_every_docs_citation_and_markdown_link_resolves():
    problems: List[str] = []
    for path in text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(ROOT)
        for line_no, line in enumerate(text.splitlines(), 1):
            where = f"{rel}:{line_no}"
            for m in CITATION.finditer(line):
                if path.suffix == ".md" and f"]({m.group(0)}" in line:
                    continue                      # a Markdown link: checked below, relative to its file
                _check(ROOT / "docs" / m.group(1), m.group(2), where, problems)
            if path.suffix == ".md":
                for m in MD_LINK.finditer(line):
                    if "://" not in m.group(1):
                        _check((path.parent / m.group(1)).resolve(), m.group(2), where, problems)
    assert not problems, "broken documentation references:\n" + "\n".join(problems)


def test_nothing_cites_reference_files_outside_the_repository():
    hits = []
    for path in text_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not hits, ("cite the repository's docs/ (see CONTRIBUTING.md, 'Cite sources') instead of files "
                      "users do not have:\n" + "\n".join(hits))


def _method_sections() -> Dict[str, str]:
    text = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("name", list_methods())
def test_every_method_parameter_is_documented(name):
    sections = _method_sections()
    assert name in sections, f"docs/methods.md has no '## {name}' section; add one (see CONTRIBUTING.md)"
    missing = [f for f in METHODS.get(name).Config.model_fields if f"`{f}`" not in sections[name]]
    assert not missing, (f"method '{name}': parameters {missing} are not documented in its section of "
                         f"docs/methods.md; add them to its parameter table")


def test_slug_follows_github_rules():
    assert slug("Template tiled (Zhang FPGA'15, Ma FPGA'17)") == "template-tiled-zhang-fpga15-ma-fpga17"
    assert slug("Timing with io_stream") == "timing-with-io_stream"
