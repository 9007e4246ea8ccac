"""Guards on the layering: lib/ is the core and must import without Streamlit."""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
CORE_MODULES = sorted(p for p in LIB.glob("*.py") if p.name != "ui.py")


def imported_top_level_packages(path: Path) -> set[str]:
    """Return the top-level package names that a Python file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_lib_package_exists_with_core_modules():
    assert (LIB / "__init__.py").exists()
    assert CORE_MODULES, "lib/ should hold the product's core modules"


@pytest.mark.parametrize("module", CORE_MODULES, ids=lambda p: p.name)
def test_core_module_does_not_import_streamlit(module: Path):
    assert "streamlit" not in imported_top_level_packages(module)
