"""The docs stay true to the code: every setting is documented, every relative link resolves."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"

#: Files another branch adds (the lead merges them): links to them are allowed until then.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def env_variables_read(path: Path) -> set[str]:
    """Names read with django-environ in a settings module: env.str("X"), env.db("X"), …"""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def analyzer_settings_read(package: Path) -> set[str]:
    """ACADEMIC_ANALYZER_* settings a package reads (settings.X or getattr(settings, "X"))."""
    pattern = re.compile(r"\b(ACADEMIC_ANALYZER_[A-Z_]+[A-Z])\b")
    return {
        name
        for path in package.rglob("*.py")
        if "migrations" not in path.parts
        for name in pattern.findall(path.read_text())
        if f"settings.{name}" in path.read_text() or f'settings, "{name}"' in path.read_text()
    }


def documented_names(text: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(path: Path) -> list[str]:
    """Relative links in a Markdown file whose file, or heading in it, does not exist."""
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text()))
    problems = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    return problems


def markdown_files() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "bench" / "results").glob("*.md")),
    ]


def test_every_environment_variable_of_the_settings_is_in_configuration_md():
    read = env_variables_read(ROOT / "quizsite" / "settings.py")
    assert "ACADEMIC_ANALYZER_URL" in read  # the walk finds what it should
    missing = read - documented_names(CONFIGURATION.read_text())
    assert not missing, f"read in quizsite/settings.py, not in docs/configuration.md: {missing}"


def test_every_analyzer_setting_the_code_reads_is_in_configuration_md():
    read = analyzer_settings_read(ROOT / "academic_integration")
    assert "ACADEMIC_ANALYZER_BREAKER_FAIL_MAX" in read
    missing = read - documented_names(CONFIGURATION.read_text())
    assert not missing, f"read by academic_integration, not in docs/configuration.md: {missing}"


def test_configuration_md_names_no_setting_the_code_does_not_read():
    read = env_variables_read(ROOT / "quizsite" / "settings.py")
    documented = {
        name
        for name in documented_names(CONFIGURATION.read_text())
        if name.startswith(("ACADEMIC_ANALYZER_", "DJANGO_"))
    }
    assert documented - read == set()


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_existing_files_and_headings(path):
    assert broken_links(path) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "there.md").write_text("# A heading: with `code`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md#a-heading-with-code) [gone](missing.md) [bad](there.md#nope)\n"
        "`[in code](missing.md)`\n```\n[in a block](missing.md)\n```\n[web](https://x.org/y)\n"
    )
    assert broken_links(page) == [
        "page.md: missing.md (no such file)",
        "page.md: there.md#nope (no such heading)",
    ]


def test_every_decision_record_is_listed_in_the_decisions_index():
    folder = ROOT / "docs" / "decisions"
    index = (folder / "README.md").read_text()
    records = sorted(p.name for p in folder.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert len(records) >= 7
    assert [name for name in records if f"({name})" not in index] == []
