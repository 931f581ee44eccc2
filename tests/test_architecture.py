"""The layout is part of the product: dependencies flow one way, no file imports itself in a circle, every
module imports, doctests hold.

The import picture (an arrow reads "is imported by")::

    runconfig.typed, runconfig.keys   (generic: strict config loader, API-key reader; import nothing of ours)
    sandbox <- synthesis <- validators <- pipelines
                        \\______________\\_____ train     (train reads shards; never imports pipelines)
    runconfig.root    composes every section of pipeline.yaml, so it imports every package's config; only
                      the entry points import it: pipelines/cli.py (the ``beam`` command),
                      pipelines/build_*.py and train/run.py.

Rules, checked on each file's own imports (direct, not transitive):

* sandbox imports nothing of ours; synthesis only sandbox; validators only sandbox and synthesis; pipelines
  anything but train; train anything but pipelines; runconfig.typed/keys nothing of ours. Everything above
  sandbox may use runconfig.typed/keys.
* runconfig.root is imported only by the entry points above. It is the one module allowed to import both
  pipelines and train, which is how train/run.py loads the whole file without train importing pipelines.
* No cycle between files through module-level imports, ``if TYPE_CHECKING:`` ones included (imports inside
  functions run late and do not count; a package ``__init__`` that its own modules' imports run implicitly
  does not count either).
* No Beam below pipelines/, and nothing runconfig.root loads at import time imports Beam (train/run.py
  imports it).
"""

import ast
import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["runconfig", "sandbox", "synthesis", "validators", "pipelines", "train"]
# Who may import whom, directly.
ALLOWED = {
    "runconfig": set(),
    "sandbox": set(),
    "synthesis": {"runconfig", "sandbox"},
    "validators": {"runconfig", "sandbox", "synthesis"},
    "pipelines": {"runconfig", "sandbox", "synthesis", "validators"},
    "train": {"runconfig", "sandbox", "synthesis", "validators"},
}
BEAM_FREE = {"runconfig", "sandbox", "synthesis", "validators", "train"}
# The root config composes every section (pipelines' and train's included) so that one strict loader validates
# the whole file; it may import every package, and only entry points may import it.
ROOT_CONFIG = "runconfig/root.py"
ENTRY_POINTS = {"pipelines/cli.py", "pipelines/build_sft.py", "pipelines/build_rl.py", "train/run.py"}


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(path: Path) -> set[str]:
    """Top-level package names of every import in the file, at module level or inside functions."""
    names = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_flow_one_way(package):
    for path in _modules(package):
        rel = _rel(path)
        if rel == ROOT_CONFIG:
            continue
        imported = _imports(path) & set(PACKAGES) - {package}
        assert imported <= ALLOWED[package], f"{rel} imports {sorted(imported - ALLOWED[package])}"
        if package in BEAM_FREE:
            assert "apache_beam" not in _imports(path), f"{rel} imports apache_beam"


# --- the file-level import graph ----------------------------------------------------------------------------


def _file_of(module: str) -> str | None:
    """The file of one of our modules (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``), None when not ours."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return _rel(candidate)
    return None


def _package_of(rel: str) -> str:
    parts = Path(rel).with_suffix("").parts
    return ".".join(parts[:-1])  # for a/b/__init__.py and a/b/c.py alike: the package the file lives in


def _targets(rel: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """Our files one import statement loads by name (the parent packages' ``__init__`` it also runs are left
    out: a package's ``__init__`` re-exporting its modules is not a cycle)."""
    if isinstance(node, ast.Import):
        return {f for alias in node.names if (f := _file_of(alias.name))}
    if node.level:
        base = _package_of(rel).split(".")
        base = base[: len(base) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    files = set()
    for alias in node.names:
        sub = _file_of(f"{module}.{alias.name}")  # `from pkg import submodule`
        target = sub or _file_of(module)
        if target:
            files.add(target)
    return files


def _statement_imports(body: list[ast.stmt]):
    """Import statements at module level: also inside top-level ``if``/``try``/``with`` blocks (``if
    TYPE_CHECKING:`` included: a type-only import is still a dependency of the design) and class bodies; not
    inside functions, which import late."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _statement_imports([child])
                elif isinstance(child, ast.ExceptHandler):
                    yield from _statement_imports(child.body)


def _graph() -> dict[str, set[str]]:
    graph = {}
    for package in PACKAGES:
        for path in _modules(package):
            rel = _rel(path)
            graph[rel] = set().union(*(_targets(rel, n) for n in _statement_imports(_tree(path).body))) - {
                rel
            }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one file (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}, "g": set()}
    assert sorted(sorted(c) for c in _cycles(graph)) == [["a", "b", "c"], ["e", "f"]]


def test_no_import_cycles_between_files():
    cycles = sorted(sorted(c) for c in _cycles(_graph()))
    assert not cycles, f"import cycles between files (module-level imports): {cycles}"


def test_root_config_is_imported_only_by_entry_points():
    offenders = []
    for package in PACKAGES:
        for path in _modules(package):
            rel = _rel(path)
            loads = set().union(
                *(
                    _targets(rel, n)
                    for n in ast.walk(_tree(path))
                    if isinstance(n, ast.Import | ast.ImportFrom)
                )
            )
            if ROOT_CONFIG in loads and rel not in ENTRY_POINTS:
                offenders.append(rel)
    assert not offenders, f"only entry points may import {ROOT_CONFIG}: {offenders}"


def test_root_config_loads_no_beam():
    graph, seen, todo = _graph(), set(), [ROOT_CONFIG]
    while todo:
        rel = todo.pop()
        if rel not in seen:
            seen.add(rel)
            todo.extend(graph[rel])
    beam = [rel for rel in sorted(seen) if "apache_beam" in _imports(ROOT / rel)]
    assert not beam, f"{ROOT_CONFIG} loads Beam through {beam} (train/run.py imports it)"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


LIBRARY_MODULES = [
    _module_name(p)
    for pkg in PACKAGES
    for p in _modules(pkg)
    if not (pkg == "pipelines" and p.name.startswith("build_")) and p.name != "run.py"
]


@pytest.mark.parametrize("name", LIBRARY_MODULES)
def test_module_imports_and_doctests_pass(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0, f"{failures} doctest(s) failed in {name}"


def test_train_config_stays_light():
    """The root config imports train's section on every worker: it may take the one endpoint type from
    ``synthesis.endpoint.config``, which is itself only dataclasses, but nothing heavier (no torch)."""
    light = {"__future__", "dataclasses", "typing", "collections"}
    assert _imports(ROOT / "train" / "config.py") <= light | {"synthesis"}
    # the cache location check reads runconfig.storage, whose module-level imports are the standard library
    assert _imports(ROOT / "synthesis" / "endpoint" / "config.py") <= light | {"runconfig"}
    stdlib = {"os", "re", "tempfile", "uuid", "contextlib", "pathlib"}
    top = _tree(ROOT / "runconfig" / "storage.py").body
    assert {a.name for n in top if isinstance(n, ast.Import) for a in n.names} <= stdlib
    assert {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom)} <= light | stdlib
    for init in ("synthesis/__init__.py", "synthesis/endpoint/__init__.py"):
        assert _imports(ROOT / init) <= light, init
    synthesis_modules = {
        node.module
        for node in ast.walk(_tree(ROOT / "train" / "config.py"))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("synthesis")
    }
    assert synthesis_modules <= {"synthesis.endpoint.config"}


def test_no_environment_reads_outside_config_modules():
    offenders = []
    for pkg in PACKAGES:
        for path in _modules(pkg):
            text = path.read_text()
            reads = (
                "os.environ[" in text or "getenv(" in text or "environ.get(" in text or "os.environ)" in text
            )
            if reads and _rel(path) not in {"pipelines/runner.py", "runconfig/keys.py"}:
                offenders.append(_rel(path))
    assert not offenders, f"environment read outside config modules: {offenders}"


def test_every_sandbox_parameter_is_typed():
    """A ``sandbox`` parameter outside the sandbox package is a ``SessionOpener`` (or the concrete pool), so
    the type checker holds every caller to the one ``session`` call."""
    untyped = [
        f"{_rel(path)}:{arg.lineno} {node.name}"
        for pkg in PACKAGES
        if pkg != "sandbox"
        for path in _modules(pkg)
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for arg in node.args.args + node.args.kwonlyargs
        if arg.arg == "sandbox" and arg.annotation is None
    ]
    assert not untyped, f"untyped sandbox parameters: {untyped}"


def test_every_prompt_text_is_in_the_prompts_module():
    """Texts a model is shown are defined once, in ``synthesis/prompts.py`` (others import them from
    there)."""
    shown = re.compile(r"(PROMPT|TEMPLATE|NO_TOOL_\w+)$")
    elsewhere = [
        f"{_rel(path)}: {target.id}"
        for pkg in PACKAGES
        for path in _modules(pkg)
        if _rel(path) != "synthesis/prompts.py"
        for node in _tree(path).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and shown.search(target.id.lstrip("_"))
    ]
    assert not elsewhere, f"model-facing texts outside synthesis/prompts.py: {elsewhere}"
