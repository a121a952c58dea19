"""The house layout: imports only go down (transport -> services -> dsp/models/store/jobs)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "server" / "residue"
LAYERS = ["dsp", "models", "store", "jobs", "services", "transport"]
# Which of our own packages each layer may import (besides itself, errors, config).
ALLOWED = {
    "dsp": set(),
    "models": {"dsp"},
    "store": {"dsp"},
    "jobs": {"dsp"},
    "services": {"dsp", "models", "store", "jobs", "protocol"},
    "transport": {"services", "protocol", "dsp", "jobs"},
}


def imported_residue_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("residue"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("residue")}
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_only_go_down(layer: str) -> None:
    allowed = ALLOWED[layer] | {layer}
    for path in (PACKAGE / layer).rglob("*.py"):
        for module in imported_residue_modules(path):
            parts = module.split(".")
            if len(parts) == 1 or parts[1] in {"errors", "__init__"}:
                continue
            if parts[1] == "config" and layer in {"services", "transport", "jobs"}:
                continue
            assert parts[1] in allowed, f"{path.relative_to(PACKAGE)} imports {module}"


def test_dsp_imports_without_web_stack() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'litestar', 'msgspec', 'uvicorn', 'sqlite3'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import residue.dsp.nmf, residue.dsp.spectral, residue.dsp.units, residue.dsp.components\n"
        "import residue.dsp.demo\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_dsp_has_no_print_or_logging_setup() -> None:
    for path in (PACKAGE / "dsp").rglob("*.py"):
        text = path.read_text()
        assert "print(" not in text, path
        assert "basicConfig" not in text, path
