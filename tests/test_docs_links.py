"""The docs hold together: every relative link in README.md and docs/ names a file in the repository,
README stays short, and every figure in README's results table names the command that produced it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 220
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCED_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...
COMMAND_SPAN = re.compile(r"`(convlens|make)\b[^`]*`")


def documentation_pages() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def relative_links(markdown: str) -> list[str]:
    """The targets of Markdown links and images that point into the repository, anchors stripped;
    code blocks and code spans are not links."""
    prose = CODE_SPAN.sub("", FENCED_BLOCK.sub("", markdown))
    targets = []
    for target in LINK.findall(prose):
        if EXTERNAL.match(target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The relative links of `page` that name no existing file or folder inside `root`."""
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        resolved = (page.parent / target).resolve()
        if not resolved.is_relative_to(root.resolve()) or not resolved.exists():
            broken.append(target)
    return broken


def results_table_rows(markdown: str) -> list[str]:
    """The body rows of the first table under README's "## Results" heading."""
    section = markdown.split("\n## Results", 1)[1].split("\n## ", 1)[0]
    table: list[str] = []
    for line in section.splitlines():
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return table[2:]  # the header and the separator are not figures


def test_every_relative_link_in_the_docs_names_a_file_in_the_repository():
    pages = documentation_pages()
    assert len(pages) > 1, "docs/ has no pages"
    problems = {str(page.relative_to(ROOT)): broken_links(page) for page in pages}
    assert {page: links for page, links in problems.items() if links} == {}


def test_a_broken_link_is_caught_and_anchors_and_external_links_are_not_checked(tmp_path):
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "there.md").write_text("# Here\n")
    (tmp_path / "elsewhere.md").write_text("outside the repository\n")
    page = repo / "docs" / "page.md"
    page.write_text(
        "[fine](there.md#here) ![fine too](../docs/there.md) [web](https://example.org/x.md) [anchor](#top)\n"
        "[missing](gone.md#section) ![missing image](images/photo-tab.png) [outside](../../elsewhere.md)\n"
        "`[not a link](nowhere.md)`\n```\n[in a code block](nowhere.md)\n```\n"
    )
    assert broken_links(page, root=repo) == ["gone.md", "images/photo-tab.png", "../../elsewhere.md"]


def test_readme_is_at_most_220_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_figure_in_readmes_results_table_names_its_command():
    rows = results_table_rows(README.read_text(encoding="utf-8"))
    assert rows, "README has no results table under ## Results"
    assert [row for row in rows if not COMMAND_SPAN.search(row)] == []


def test_a_results_row_without_a_command_is_caught():
    markdown = (
        "# x\n\n## Results\n\n| figure | command | value |\n|---|---|---|\n"
        "| a | `convlens train digits` | 0.9 |\n| b | by hand | 0.8 |\n\n| other | table |\n|---|---|\n| c | d |\n"
        "\n## Next\n"
    )
    rows = results_table_rows(markdown)
    assert [row for row in rows if not COMMAND_SPAN.search(row)] == ["| b | by hand | 0.8 |"]
