"""The layout is part of the product: dependencies flow one way, every module imports, doctests hold."""

import ast
import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["sandbox", "synthesis", "validators", "pipelines", "train"]
# Who may import whom (data flows sandbox <- synthesis <- validators <- pipelines; train reads shards and
# reuses the agent loop and the validators' judgements).
ALLOWED = {
    "sandbox": set(),
    "synthesis": {"sandbox"},
    "validators": {"sandbox", "synthesis"},
    "pipelines": {"sandbox", "synthesis", "validators"},
    "train": {"sandbox", "synthesis", "validators", "pipelines"},
}
BEAM_FREE = {"sandbox", "synthesis", "validators", "train"}
# The one upward edge: the root config composes every section of pipeline.yaml, train's included, so that one
# strict loader validates the whole file. train/config.py is plain dataclasses (no torch, no Beam).
EXCEPTIONS = {("pipelines/config.py", "train")}


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_flow_one_way(package):
    for path in _modules(package):
        rel = path.relative_to(ROOT).as_posix()
        imported = {name for name in _imports(path) & set(PACKAGES) - {package} if (rel, name) not in EXCEPTIONS}
        assert imported <= ALLOWED[package], f"{rel} imports {sorted(imported - ALLOWED[package])}"
        if package in BEAM_FREE:
            assert "apache_beam" not in _imports(path), f"{path.relative_to(ROOT)} imports apache_beam"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


LIBRARY_MODULES = [_module_name(p) for pkg in PACKAGES for p in _modules(pkg)
                   if not (pkg == "pipelines" and p.name.startswith("build_")) and p.name != "run.py"]


@pytest.mark.parametrize("name", LIBRARY_MODULES)
def test_module_imports_and_doctests_pass(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0, f"{failures} doctest(s) failed in {name}"


def test_train_config_stays_light():
    assert _imports(ROOT / "train" / "config.py") <= {"__future__", "dataclasses", "typing", "collections"}


def test_no_environment_reads_outside_config_modules():
    offenders = []
    for pkg in PACKAGES:
        for path in _modules(pkg):
            text = path.read_text()
            reads = "os.environ[" in text or "getenv(" in text or "environ.get(" in text or "os.environ)" in text
            if reads and path.relative_to(ROOT).as_posix() not in {"pipelines/runner.py", "pipelines/config.py"}:
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"environment read outside config modules: {offenders}"
