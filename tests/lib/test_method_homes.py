"""Each scoring method has one home (lib/methods.py): nothing outside the engine branches on a method.

A branch on a scoring method is an ``isinstance`` test against a spec class of :mod:`lib.model`, a comparison of
something named ``method`` with a method's name, or a dict literal keyed by two or more method names (a branch
written as a lookup). Outside the engine modules, at most :data:`ALLOWED` remain.
"""

import ast
from pathlib import Path

from lib.model import METHODS

ROOT = Path(__file__).resolve().parents[2]
ENGINE = {"scoring.py", "plan.py", "vectorised.py", "parquet_scoring.py", "model.py", "methods.py"}
SPEC_CLASSES = {"Linear", "Steps", "Categories", "Percentile", "VsAverage"}
ALLOWED = 5


def _names(node: ast.AST) -> set[str]:
    """Class names in an isinstance's second argument (a name, a tuple, or an ``A | B`` union)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Tuple):
        return set().union(*map(_names, node.elts))
    if isinstance(node, ast.BinOp):
        return _names(node.left) | _names(node.right)
    return set()


def _method_literal(node: ast.AST) -> bool:
    """A method's name, or a tuple / list / set holding one."""
    if isinstance(node, ast.Constant):
        return node.value in METHODS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_method_literal(e) for e in node.elts)
    return False


def method_branches(source: str) -> list[int]:
    """Line numbers of the branches on a scoring method in a module's source."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
                and len(node.args) == 2 and _names(node.args[1]) & SPEC_CLASSES):
            lines.append(node.lineno)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(map(_method_literal, sides)) and any("method" in ast.unparse(s) for s in sides):
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict) and sum(_method_literal(k) for k in node.keys if k is not None) >= 2:
            lines.append(node.lineno)
    return sorted(lines)


def branches_outside_the_engine() -> dict[str, list[int]]:
    """Module (relative path) → lines that branch on a scoring method, over lib/ and app_pages/."""
    out = {}
    for path in sorted([*(ROOT / "lib").glob("*.py"), *(ROOT / "app_pages").glob("*.py")]):
        if path.parent.name == "lib" and path.name in ENGINE:
            continue
        found = method_branches(path.read_text(encoding="utf-8"))
        if found:
            out[str(path.relative_to(ROOT))] = found
    return out


def test_the_counter_finds_each_kind_of_branch():
    source = ("isinstance(s, Linear | Steps)\nisinstance(s, (m.Percentile, VsAverage))\nsp['method'] == 'linear'\n"
              "method in ('steps', 'vs_average')\nNAMES = {'linear': 1, 'steps': 2}\n"
              "'percentile' in row\nisinstance(x, int)\nm.numeric\n")
    assert method_branches(source) == [1, 2, 3, 4, 5]


def test_at_most_five_places_outside_the_engine_branch_on_a_scoring_method():
    found = branches_outside_the_engine()
    total = sum(map(len, found.values()))
    assert total <= ALLOWED, f"{total} branches on a scoring method outside the engine (ask lib.methods): {found}"
