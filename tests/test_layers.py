"""The import rule, checked on the source: every import of every module under toolkit/ and demo/, counting
imports inside functions, goes down the layers (core <- data <- experiments <- export; ascent <- bench),
never in a circle, and demo/ uses only what the serving install offers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# what each toolkit subpackage may import, besides itself; a lower layer never knows a higher one
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "experiments": {"core", "data"},
    "serving": {"core"},
    "export": {"core", "serving", "data", "experiments"},
    "evaluation": {"core", "serving", "data", "experiments", "export", "teach"},  # `convlens eval teach`
    "ascent": {"core", "data"},
    "teach": {"core", "serving"},  # TF-free like serving: the demo's Teach tab trains with it
    "cluster": {"core", "serving"},  # Ray Serve and Ray Data hosts of serving's pipelines (the serve extra)
    "bench": {"core", "serving", "data", "experiments", "export", "evaluation", "ascent", "teach", "cluster"},
}
TOP_LEVEL = {"toolkit", "toolkit.cli", "toolkit.__main__"}  # the entry points may name every command's module
# teach: core + serving + onnx, no TF; cluster.serve_client: the standard library's HTTP, no Ray (--serve-url)
DEMO_ALLOWED_PREFIXES = ("toolkit.core", "toolkit.serving", "toolkit.teach", "toolkit.cluster.serve_client")
DEMO_LAZY_ONLY = "toolkit.ascent"  # live renders: imported inside a function, never at module level
HEAVY_LIBRARIES = ("tensorflow", "keras", "tf_keras", "tf2onnx", "gradio", "gradio_client")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, at module level?) for every import in a file, strings given to import_module included."""
    tree = ast.parse(path.read_text(), str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("toolkit.")
            and ":" in node.value
        ):  # the CLI's lazy "module:function" targets
            names = [node.value.split(":")[0]]
        found += [(name, id(node) in top_level) for name in names]
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "toolkit" and parts[1] in ALLOWED else None


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _existing(module: str) -> str:
    """The longest prefix of `module` that is a module or package of the tree (`from x import name`)."""
    parts = module.split(".")
    while parts:
        candidate = ROOT.joinpath(*parts)
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts)
        parts.pop()
    return module


def test_toolkit_layers_import_only_downwards():
    wrong = []
    for path in _sources("toolkit"):
        module = _module_name(path)
        layer = _layer(module)
        for imported, _ in _imports(path):
            if not imported.startswith(("toolkit.", "demo")) and imported not in ("toolkit", "demo"):
                continue
            if imported.startswith("demo"):
                wrong.append(f"{module} imports {imported}: the toolkit never knows the demo's UI")
                continue
            target = _layer(imported)
            if module in TOP_LEVEL or target is None or target == layer:
                continue
            if layer is None or target not in ALLOWED[layer]:
                wrong.append(f"{module} ({layer}) imports {imported} ({target})")
    assert wrong == []


def test_there_is_no_import_cycle_even_through_imports_inside_functions():
    graph: dict[str, set[str]] = {}
    for path in [*_sources("toolkit"), *_sources("demo")]:
        module = _module_name(path)
        # a module's own parent packages are already importing when it runs: not an edge of a cycle
        graph[module] = {
            _existing(name)
            for name, _ in _imports(path)
            if name.startswith(("toolkit.", "demo."))
            and _existing(name) != module
            and not module.startswith(_existing(name) + ".")
        }
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_core_and_the_demos_helpers_import_no_heavy_library_at_module_level():
    light = [
        *_sources("toolkit/core"),
        ROOT / "toolkit/export/__init__.py",
        *_sources("toolkit/serving"),
        ROOT / "toolkit/__init__.py",
        ROOT / "toolkit/cli.py",
    ]
    heavy = [
        f"{_module_name(path)} imports {name}"
        for path in light
        for name, top in _imports(path)
        if top and name.split(".")[0] in HEAVY_LIBRARIES
    ]
    assert heavy == []


def test_the_serving_layer_loads_no_tensorflow_even_indirectly():
    """Importing every serving module, as a Ray replica or `convlens classify` does, leaves TensorFlow unloaded."""
    modules = [_module_name(path) for path in _sources("toolkit/serving")]
    code = f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; " + (
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'gradio')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_ascent_package_loads_neither_timing_nor_live_when_imported():
    imported = {name for name, top in _imports(ROOT / "toolkit/ascent/__init__.py") if top}
    assert not any(
        name.startswith(("toolkit.ascent.render_timing", "toolkit.ascent.live", "toolkit.bench")) for name in imported
    )


def _demo_violations() -> list[str]:
    wrong = []
    for path in _sources("demo"):
        for name, top in _imports(path):
            if not name.startswith("toolkit"):
                continue
            if name == "toolkit" or name.startswith(DEMO_ALLOWED_PREFIXES):
                continue
            if name == DEMO_LAZY_ONLY or name.startswith(DEMO_LAZY_ONLY + "."):
                if top:
                    wrong.append(f"{_module_name(path)} imports {name} at module level (TensorFlow at start-up)")
                continue
            wrong.append(f"{_module_name(path)} imports {name}")
    return wrong


def test_the_demo_imports_no_tensorflow_path_at_module_level():
    """Holds today: toolkit.ascent (TensorFlow) only inside a function, nothing heavy at start-up."""
    assert [v for v in _demo_violations() if "module level" in v] == []


def test_the_demo_imports_only_the_serving_layer_and_core_and_ascent_lazily():
    assert _demo_violations() == []


def test_the_rule_checker_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("import os\n\ndef f():\n    from toolkit.bench.demo_latency import start_demo\n")
    imported = [(name, top) for name, top in _imports_at(source)]
    assert ("toolkit.bench.demo_latency.start_demo", False) in imported and ("os", True) in imported


def _imports_at(path: Path) -> list[tuple[str, bool]]:
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out += [(f"{node.module}.{a.name}", id(node) in top) for a in node.names]
    return out
