"""Guards on the layering: lib/ is the core (no Streamlit but lib/ui.py, no pages, no import cycles); pages reach
data through lib, never through DuckDB."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB_FILES = sorted((ROOT / "lib").rglob("*.py"))
PAGE_FILES = sorted((ROOT / "app_pages").rglob("*.py"))


def module_name(path: Path) -> str:
    """'lib/views/portfolio.py' → 'lib.views.portfolio'; a package's __init__.py → the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


LIB_MODULES = {module_name(p) for p in LIB_FILES}


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Every module a Python file imports (``from lib import x`` counts as ``lib.x`` when x is a module).

    ``top_level_only``: only the imports that run when the module is imported — not those inside functions
    (deferred on purpose) or under ``if TYPE_CHECKING:``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if top_level_only:
        nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        nodes += [n for block in tree.body if isinstance(block, ast.Try) for n in block.body
                  if isinstance(n, ast.Import | ast.ImportFrom)]
    else:
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in LIB_MODULES)
    return names


def top_packages(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


@pytest.mark.parametrize("path", [p for p in LIB_FILES if p.name != "ui.py"], ids=lambda p: module_name(p))
def test_lib_module_imports_no_streamlit(path: Path):
    assert "streamlit" not in top_packages(imports(path))


@pytest.mark.parametrize("path", LIB_FILES, ids=lambda p: module_name(p))
def test_lib_module_imports_no_page_and_not_the_app(path: Path):
    assert not top_packages(imports(path)) & {"app_pages", "app"}


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: module_name(p))
def test_page_reaches_data_through_lib_not_duckdb(path: Path):
    assert "duckdb" not in top_packages(imports(path))


def test_lib_modules_import_each_other_without_a_cycle():
    graph = {module_name(p): {m for m in imports(p, top_level_only=True) if m in LIB_MODULES} - {module_name(p)}
             for p in LIB_FILES}
    state: dict[str, str] = {}  # module → "open" while on the path, "done" once all it imports are checked

    def cycle_from(module: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
        state[module] = "open"
        for dependency in sorted(graph.get(module, ())):
            if state.get(dependency) == "open":
                return (*path[path.index(dependency):], dependency) if dependency in path else (module, dependency)
            if dependency not in state and (found := cycle_from(dependency, (*path, dependency))):
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := cycle_from(module, (module,))):
            pytest.fail("lib imports in a cycle: " + " → ".join(found))
    assert len(graph) == len(LIB_FILES) and "lib.engine.model" in graph["lib.engine.plan"]  # the graph was read


# lib/ in layers, bottom up (README "How it is built"): a module imports from its own layer and those below only.
LAYERS = (("lib.engine",), ("lib.data",), ("lib.analysis",), ("lib.charts", "lib.export"), ("lib.views",),
          ("lib.cli", "lib.ui"))


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the layer that holds ``module`` (None for the bare ``lib`` package)."""
    return next((i for i, layer in enumerate(LAYERS) for top in layer
                 if module == top or module.startswith(top + ".")), None)


def test_every_lib_module_sits_in_a_layer():
    assert [m for m in sorted(LIB_MODULES) if m != "lib" and layer_of(m) is None] == []
    assert layer_of("lib.engine.model") < layer_of("lib.data.workspace") < layer_of("lib.views.tuning")


@pytest.mark.parametrize("path", [p for p in LIB_FILES if module_name(p) != "lib"], ids=lambda p: module_name(p))
def test_lib_module_imports_only_its_own_layer_and_those_below(path: Path):
    own = layer_of(module_name(path))
    above = sorted(m for m in imports(path) if m in LIB_MODULES and m != "lib" and layer_of(m) > own)
    assert above == [], f"{module_name(path)} reaches up to {above}: move the shared piece down a layer"
