"""Every study notebook has a papermill ``parameters`` cell and holds no logic (no def, no class)."""
import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def definitions_in(source: str) -> list[str]:
    """Names of functions and classes defined in a cell; IPython magics and shell lines are skipped."""
    if source.lstrip().startswith("%%"):
        return []  # a cell magic: the body is not Python
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    return [f"{type(node).__name__} {node.name}" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def test_definitions_in_finds_def_and_class_and_skips_magics():
    assert definitions_in("def f(x):\n    return x") == ["FunctionDef f"]
    assert definitions_in("if True:\n    class A:\n        pass") == ["ClassDef A"]
    assert definitions_in("async def g():\n    pass") == ["AsyncFunctionDef g"]
    assert definitions_in("%matplotlib inline\n!ls\nx = sorted([3, 1], key=lambda v: -v)") == []
    assert definitions_in("%%bash\ndef not python") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one code cell tagged 'parameters', found {len(tagged)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_defines_no_function_or_class(path):
    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            found += [f"cell {i}: {d}" for d in definitions_in(cell.source)]
    assert not found, f"{path.name} holds logic (move it into segrepro): {found}"
