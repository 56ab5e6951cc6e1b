"""tools/mutation.py makes real, distinct mutants and judges them by the covering tests' outcome."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_tool"] = module
    spec.loader.exec_module(module)
    return module


mutation = _tool()

SOURCE = '''
"""A docstring stays."""
LIMIT: int = 10


def over(count: int) -> bool:
    """True past the limit."""
    if count > LIMIT and count != 0:
        return True
    total = count + 1
    return not total
'''


def test_each_operator_makes_a_mutant_that_parses_and_differs() -> None:
    mutants = mutation.mutants_of("m.py", SOURCE)
    kinds = {m.kind for m in mutants}
    assert {
        "Gt -> GtE",
        "NotEq -> Eq",
        "And -> Or",
        "Add -> Sub",
        "constant 10 -> 11",
        "constant 1 -> 2",
    } <= kinds
    assert {"condition negated", "return None", "statement deleted", "not removed"} <= kinds
    original = ast.unparse(ast.parse(SOURCE))
    for mutant in mutants:
        ast.parse(mutant.source)
        assert mutant.source != original
    assert len({m.source for m in mutants}) == len(mutants)


def test_docstrings_and_annotations_are_not_mutated() -> None:
    for mutant in mutation.mutants_of("m.py", SOURCE):
        assert '"""A docstring stays."""' in mutant.source or "'A docstring stays.'" in mutant.source
        assert "LIMIT: int" in mutant.source


def test_a_mutant_names_its_line() -> None:
    flipped = next(m for m in mutation.mutants_of("m.py", SOURCE) if m.kind == "Gt -> GtE")
    assert flipped.describe() == "m.py:8: Gt -> GtE"
    assert "count >= LIMIT" in flipped.source


def test_run_tests_tells_killed_from_survived(tmp_path: Path) -> None:
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (tmp_path / "test_bad.py").write_text("def test_bad():\n    assert False\n")
    assert mutation.run_tests(tmp_path, ["test_ok.py"], 60) == "survived"
    assert mutation.run_tests(tmp_path, ["test_bad.py"], 60) == "killed"


def test_each_run_keeps_its_temp_files_out_of_the_shared_pytest_folder(tmp_path: Path) -> None:
    """Concurrent pytest runs racing on /tmp/pytest-of-<user> made unmutated runs fail at random."""
    tree = tmp_path / "tree"
    tree.mkdir()
    private = tmp_path / "pytest-tmp"
    (tree / "test_tmp.py").write_text(
        f"def test_tmp(tmp_path):\n    assert tmp_path.is_relative_to({str(private)!r}), tmp_path\n"
    )
    assert mutation.run_tests(tree, ["test_tmp.py"], 60) == "survived"
