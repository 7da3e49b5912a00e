"""The package layers of ADR 0008 hold: no two top-level packages import each other, and no
module grows past the size a reader can hold (STYLE.md: split before ~600 lines)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import sitechat

PACKAGE_ROOT = Path(sitechat.__file__).parent
MAX_MODULE_LINES = 600


def _top_level(path: Path) -> str:
    """`sitechat/chat/router.py` -> `chat`; `sitechat/config.py` -> `config`."""
    return path.relative_to(PACKAGE_ROOT).parts[0].removesuffix(".py")


def _imported_top_levels(path: Path) -> set[str]:
    """Top-level sitechat packages a module imports, lazily inside functions included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "sitechat" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def test_no_two_packages_import_each_other() -> None:
    imports: defaultdict[str, set[str]] = defaultdict(set)
    for path in _modules():
        own = _top_level(path)
        imports[own] |= _imported_top_levels(path) - {own}
    pairs = sorted(
        (first, second)
        for first, targets in imports.items()
        for second in targets
        if first < second and first in imports[second]
    )
    assert pairs == []


def test_no_module_passes_the_size_limit() -> None:
    oversized = {
        str(path.relative_to(PACKAGE_ROOT)): lines
        for path in _modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert oversized == {}
