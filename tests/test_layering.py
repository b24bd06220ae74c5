"""The import rules: ``hw`` takes from ``model`` only the configuration and the contract; nothing in
``model`` or ``hw`` imports ``sim``."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``import a.b`` and ``from a.b import c`` give ``a.b``)."""
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _files("hw"), ids=lambda p: str(p.relative_to(ROOT)))
def test_hardware_reads_only_the_configuration_and_the_contract(path):
    from_model = {m for m in _imports(path) if m == "model" or m.startswith("model.")}
    assert from_model <= {"model.config", "model.contract"}, (
        f"{path.name} imports {sorted(from_model - {'model.config', 'model.contract'})}: the hardware may not "
        "take numbers from the model that judges it (put shared numbers in model/contract.py)")


@pytest.mark.parametrize("package", ["model", "hw"])
def test_nothing_below_sim_imports_sim(package):
    offenders = [str(p.relative_to(ROOT)) for p in _files(package)
                 if any(m == "sim" or m.startswith("sim.") for m in _imports(p))]
    assert not offenders
