"""Mutation testing of the modules that guard "nothing lost" and "no one in".

    python tools/mutation.py                      every target in tools/mutation_targets.toml
    python tools/mutation.py hub_agent/lan/tokens.py --sample 60 --seed 1

For each target module: list every mutant our operators can make (comparison flipped, arithmetic
swapped, constant changed, condition negated, statement deleted, return value dropped), sample
`--sample` of them with `--seed`, and for each one run the module's covering tests (from the targets
file) against a private copy of the tree with that single change. A mutant is *killed* when the tests
fail, *survives* when they pass, and *times out* (counted as killed, listed apart) when they hang.
Prints killed/survived/score per module and each survivor with its line, so a test can be written for
it or the mutant marked equivalent (with a reason) in the targets file.

The tree is copied once to a temporary folder; the real working tree is never touched.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "tools" / "mutation_targets.toml"
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"
)

_COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}  # fmt: skip
_BINOP_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Div: ast.Mult,
    ast.Mod: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.LShift: ast.RShift,
    ast.RShift: ast.LShift, ast.BitXor: ast.BitAnd,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mutant:
    """One change to a module: which node (by walk order), what kind, where, and the mutated source."""

    module: str
    index: int
    kind: str
    line: int
    source: str

    def describe(self) -> str:
        """`file:line: kind`, the way survivors are listed."""
        return f"{self.module}:{self.line}: {self.kind}"


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0]))
                ids.add(id(body[0].value))
    return ids


def _mutations(node: ast.AST, parent: ast.AST | None) -> Iterator[tuple[str, ast.AST | None]]:
    """(kind, replacement) for each way to mutate `node`; a replacement of None deletes a statement."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAP:
        op = node.ops[0]
        yield (
            f"{type(op).__name__} -> {_COMPARE_SWAP[type(op)].__name__}",
            ast.Compare(node.left, [_COMPARE_SWAP[type(op)]()], node.comparators),
        )
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        swapped = _BINOP_SWAP[type(node.op)]
        yield f"{type(node.op).__name__} -> {swapped.__name__}", ast.BinOp(node.left, swapped(), node.right)
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{type(node.op).__name__} -> {type(other).__name__}", ast.BoolOp(other, node.values)
    elif (
        isinstance(node, ast.Constant)
        and type(node.value) in (int, float)
        and not isinstance(node.value, bool)
    ):
        yield f"constant {node.value!r} -> {node.value + 1!r}", ast.Constant(node.value + 1)
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield f"constant {node.value} -> {not node.value}", ast.Constant(not node.value)
    elif isinstance(node, ast.If | ast.While) and not isinstance(parent, ast.Module):
        yield "condition negated", type(node)(ast.UnaryOp(ast.Not(), node.test), node.body, node.orelse)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not removed", node.operand
    if (
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return None", ast.Return(ast.Constant(None))
    if isinstance(node, ast.Expr | ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Raise | ast.Delete) and (
        isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.If | ast.For | ast.While | ast.With)
    ):
        yield "statement deleted", None


def _replace(tree: ast.Module, target: int, replacement: ast.AST | None) -> ast.Module:
    """A copy of `tree` where the `target`-th node (ast.walk order) is replaced (or deleted)."""
    mutated = copy.deepcopy(tree)
    nodes = list(ast.walk(mutated))
    victim = nodes[target]
    for parent in ast.walk(mutated):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list) and victim in value:
                position = value.index(victim)
                if replacement is None:
                    value[position] = ast.Pass()
                else:
                    value[position] = replacement
                return mutated
            if value is victim:
                setattr(parent, field, replacement)
                return mutated
    raise ValueError(f"node {target} not found")


def mutants_of(module: str, text: str) -> list[Mutant]:
    """Every mutant of a module's source (docstrings and type annotations are left alone)."""
    tree = ast.parse(text)
    skip = _docstring_nodes(tree)
    for node in ast.walk(tree):
        for field in ("annotation", "returns"):
            annotation = getattr(node, field, None)
            if isinstance(annotation, ast.AST):
                skip.update(id(n) for n in ast.walk(annotation))
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    out = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        for kind, replacement in _mutations(node, parents.get(id(node))):
            if replacement is not None:
                ast.copy_location(replacement, node)
            mutated = ast.fix_missing_locations(_replace(tree, index, replacement))
            source = ast.unparse(mutated)
            if source != ast.unparse(tree):
                out.append(Mutant(module, index, kind, getattr(node, "lineno", 0), source))
    return out


def run_tests(workdir: Path, tests: list[str], timeout: float) -> str:
    """'killed', 'survived' or 'timeout' for the tests run in `workdir`."""
    return run_tests_verbose(workdir, tests, timeout)[0]


def run_tests_verbose(workdir: Path, tests: list[str], timeout: float) -> tuple[str, str]:
    """Like `run_tests`, with the end of pytest's output (to say why unmutated tests fail)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        # A private temp root: pytest's numbered folders under the shared /tmp/pytest-of-<user> are
        # cleaned by every pytest process at exit, and a run racing another's cleanup can leave an
        # unclosed scandir iterator whose ResourceWarning fails the run (filterwarnings = error).
        "--basetemp",
        str(workdir.parent / "pytest-tmp"),
        *tests,
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run(
            command, cwd=workdir, capture_output=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return "timeout", f"no result in {timeout:g} s"
    tail = (result.stdout + result.stderr).decode(errors="replace")[-3000:]
    return ("survived" if result.returncode == 0 else "killed"), tail


def main(argv: list[str] | None = None) -> int:
    """Run the chosen (default: all) targets and print each module's score and survivors."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths (default: every target)")
    parser.add_argument("--sample", type=int, default=60, help="mutants per module (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per test run")
    args = parser.parse_args(argv)
    targets = tomllib.loads(TARGETS.read_text(encoding="utf-8"))["target"]
    chosen = [t for t in targets if not args.modules or t["module"] in args.modules]
    if not chosen:
        parser.error(f"no such target in {TARGETS.name}: {args.modules}")
    summary = []
    with tempfile.TemporaryDirectory(prefix="hub-agent-mutation-") as folder:
        workdir = Path(folder) / "tree"
        shutil.copytree(ROOT, workdir, ignore=COPY_IGNORE, symlinks=True)
        for peers in (ROOT / "tests" / "peers").glob("*/node_modules"):
            (workdir / peers.relative_to(ROOT)).symlink_to(peers)
        for target in chosen:
            module, tests = target["module"], target["tests"]
            equivalent = {e["line"]: e["why"] for e in target.get("equivalent", [])}
            original = (ROOT / module).read_text(encoding="utf-8")
            status, output = run_tests_verbose(workdir, tests, args.timeout)
            if status != "survived":
                print(output, file=sys.stderr)
                print(f"{module}: its tests fail without any mutation; fix them first", file=sys.stderr)
                return 1
            every = mutants_of(module, original)
            rng = random.Random(args.seed)  # noqa: S311 (sampling, not security)
            sample = rng.sample(every, min(args.sample, len(every)))
            results: dict[str, list[Mutant]] = {"killed": [], "survived": [], "timeout": []}
            started = time.monotonic()
            try:
                for mutant in sample:
                    (workdir / module).write_text(mutant.source, encoding="utf-8")
                    results[run_tests(workdir, tests, args.timeout)].append(mutant)
            finally:
                (workdir / module).write_text(original, encoding="utf-8")
            killed = len(results["killed"]) + len(results["timeout"])
            marked = [m for m in results["survived"] if m.line in equivalent]
            live = [m for m in results["survived"] if m.line not in equivalent]
            score = (killed + len(marked)) / len(sample) if sample else 1.0
            summary.append((module, killed, len(sample), len(results["timeout"]), len(marked), score))
            print(
                f"{module}: {killed}/{len(sample)} killed ({len(results['timeout'])} by timeout), "
                f"{len(marked)} equivalent, score {score:.2f} of {len(every)} mutants "
                f"in {time.monotonic() - started:.0f} s",
                flush=True,
            )
            for mutant in live:
                print(f"  survived  {mutant.describe()}", flush=True)
            for mutant in marked:
                print(f"  equivalent {mutant.describe()}  ({equivalent[mutant.line]})", flush=True)
    print("\n| module | killed | score |\n|---|---|---|")
    for module, killed, total, _timeouts, marked, score in summary:
        extra = f" (+{marked} equivalent)" if marked else ""
        print(f"| {module} | {killed}/{total}{extra} | {score:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
