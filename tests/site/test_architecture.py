"""The layout keeps its shape: layer contracts hold, no module takes part in an import cycle, project imports sit
at the top of modules, and long functions and modules say why they are long."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("annotation", "api", "bundles", "engine", "generation", "imcbench_site", "jury", "testkit")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500
REASON = "long because"


def application_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (Tarjan 1972, SIAM J. Comput. 1(2):146–160), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph.get(target, ()))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


@pytest.fixture(scope="module")
def import_graph():
    return grimp.build_graph(*PACKAGES)


def test_the_layer_contracts_in_pyproject_hold():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_takes_part_in_an_import_cycle(import_graph):
    modules = {module for module in import_graph.modules if ".migrations" not in module}
    edges = {module: import_graph.find_modules_directly_imported_by(module) & modules for module in modules}
    cycles = [sorted(component) for component in strongly_connected(edges) if len(component) > 1]
    assert cycles == []


def test_no_app_takes_part_in_an_import_cycle(import_graph):
    def app(module: str) -> str:
        return module.split(".")[0]

    edges: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module in import_graph.modules:
        if ".migrations" in module:
            continue
        for imported in import_graph.find_modules_directly_imported_by(module):
            if app(imported) != app(module) and app(module) != "imcbench_site":  # the site package wires every app
                edges[app(module)].add(app(imported))
    edges["imcbench_site"] = set()
    assert [sorted(c) for c in strongly_connected(edges) if len(c) > 1] == []


def _imports_inside_functions(tree: ast.AST):
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(name.split(".")[0] in PACKAGES for name in names):
                yield node


def test_project_imports_inside_functions_say_why():
    unexplained = []
    for path in application_files():
        lines = path.read_text().splitlines()
        for node in _imports_inside_functions(ast.parse("\n".join(lines))):
            if "#" not in lines[node.end_lineno - 1]:
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert unexplained == [], "a project import inside a function needs a comment saying why"


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines less its docstring (a numpydoc docstring is documentation, not length)."""
    lines = function.end_lineno - function.lineno + 1
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def test_long_functions_and_modules_say_why():
    unexplained = []
    for path in application_files():
        text = path.read_text()
        tree = ast.parse(text)
        if text.count("\n") > MAX_MODULE_LINES and REASON not in (ast.get_docstring(tree) or "").lower():
            unexplained.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = _code_lines(node)
                if length > MAX_FUNCTION_LINES and REASON not in (ast.get_docstring(node) or "").lower():
                    unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert unexplained == [], f"split these, or say in the docstring why each is {REASON} …"


def test_the_cycle_finder_finds_cycles():
    components = strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(sorted(c) for c in components if len(c) > 1) == [["a", "b", "c"]]


def test_every_path_the_architecture_page_names_exists():
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text[text.index("## Where does X live") :].split("\n## ")[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    paths = [p for p in re.findall(r"`([\w./-]+)`", table) if "/" in p or p.endswith((".py", ".toml"))]
    assert len(paths) > 40
    assert [p for p in paths if not (ROOT / p).exists()] == []
    diagram = text[text.index("## Layers") : text.index("## Where does X live")]
    assert [
        p
        for p in re.findall(rf"\b((?:{'|'.join(PACKAGES)}|templates)/(?:[a-z_]+/)*)", diagram)
        if not (ROOT / p).exists()
    ] == []
