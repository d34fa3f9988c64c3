"""The package's shape: no import cycles, sibling imports at module top, one reader of settings, short modules.

These are the rules of docs/architecture.md, checked on the source so that a change that breaks them fails CI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "course_utils"
MAX_LINES = 450
LONG_FILE_MARKER = "Long file:"  # a module over MAX_LINES says why in its docstring, after this marker
LOCAL_IMPORT_MARKER = "# local import:"  # a sibling import inside a function says why, on its line or above


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


MODULES = modules()


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(current: str, node: ast.ImportFrom) -> list[str]:
    """The course_utils modules an ImportFrom names (the module, or each imported submodule)."""
    if node.level:
        base = current.split(".") if is_package(current) else current.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("course_utils"):
        return []
    found = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES]
    if found:
        return found
    return [target] if target in MODULES else []


def type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str) -> list[tuple[str, ast.stmt, bool]]:
    """(imported module, node, inside a function?) for every course_utils import that runs."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    skip = type_checking_lines(tree)
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            targets = resolve(name, node)
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name in MODULES]
        found += [(target, node, id(node) in in_function) for target in targets if target != name]
    return found


def graph() -> dict[str, set[str]]:
    return {name: {target for target, _, _ in imports_of(name)} for name in MODULES}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_import_walker_sees_relative_and_local_imports():
    edges = graph()
    assert "course_utils.audio" in edges["course_utils.tts"]
    assert "course_utils.settings" in edges["course_utils.models"]
    assert "course_utils.decoding" in edges["course_utils.scoring"]  # course_utils/__init__ re-exports lazily


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_sibling_imports_sit_at_module_top_or_say_why():
    hidden = []
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for target, node, in_function in imports_of(name):
            if not in_function:
                continue
            context = " ".join(lines[max(node.lineno - 2, 0): node.lineno])
            if LOCAL_IMPORT_MARKER not in context:
                hidden.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {target} in a function")
    assert not hidden, "\n".join(hidden)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_short_or_say_why(name):
    path = MODULES[name]
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    if n_lines > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert LONG_FILE_MARKER in docstring, (
            f"{path.name} has {n_lines} lines (> {MAX_LINES}); split it, or say why in its docstring "
            f"after '{LONG_FILE_MARKER}'"
        )


ENV_READERS = ("getenv", "get", "__getitem__")


def reads_setting(node: ast.AST) -> str | None:
    """The variable name when `node` reads a COURSE_* setting from the environment, else None."""
    key = None
    if isinstance(node, ast.Call):
        func = ast.unparse(node.func)
        if func in ("os.getenv", "os.environ.get", "getenv", "environ.get") and node.args:
            key = node.args[0]
    elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
        if isinstance(node.ctx, ast.Load):
            key = node.slice
    if key is None:
        return None
    text = ast.unparse(key)
    if text.endswith("_ENV") or text.strip("'\"").startswith("COURSE_"):
        return text
    return None


def test_only_settings_reads_the_course_settings():
    readers = []
    for name, path in MODULES.items():
        if name == "course_utils.settings":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if key := reads_setting(node):
                readers.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} reads {key}")
    assert not readers, "read settings through course_utils.settings:\n" + "\n".join(readers)


def test_settings_reader_detection_works():
    assert reads_setting(ast.parse('os.environ.get("COURSE_HEADLESS")').body[0].value) == "'COURSE_HEADLESS'"
    assert reads_setting(ast.parse("os.getenv(CORPUS_ENV)").body[0].value) == "CORPUS_ENV"
    assert reads_setting(ast.parse('os.environ.get("HOME")').body[0].value) is None
