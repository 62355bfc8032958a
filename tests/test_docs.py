"""The project documents itself: the README's links lead to files inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_and_docs_link_only_to_files_in_the_repository():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        assert "DESIGN.md" not in text, page.name
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "/")):
                continue
            assert (page.parent / target).exists(), (page.name, target)


def test_readme_leads_to_the_architecture_and_the_error_codes():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in text
    assert "(docs/errors.md)" in text
