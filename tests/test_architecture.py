"""The packages depend one way: the engine is the ground, the parts stand on it, the assembly
on top of them; the pure model imports no I/O.

    loadtest      the load harness (drives a whole product)
    clinicq       the assembly: the app, the CLI, the combined settings
    displays  ticketing  notifier  clinic_sim     the parts, each beside the others
    engine        the ground: model, Lua, stores, journal, HTTP plumbing, auth
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = {
    "engine": 0,
    "displays": 1,
    "ticketing": 1,
    "notifier": 1,
    "clinic_sim": 1,
    "clinicq": 2,
    "loadtest": 3,
}
# What the pure model must never import: sockets, stores, servers, devices, file formats.
IO = {"asyncio", "asyncpg", "redis", "httpx", "starlette", "websockets", "uvicorn", "socket",
      "escpos", "yaml", "subprocess", "multiprocessing", "psutil"}  # fmt: skip
# Of our own modules the model reads only the clinic's configuration, which is plain data.
MODEL_MAY_IMPORT = ("engine.model", "engine.clinic")


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports by absolute name (at any depth: late imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def arrows() -> list[tuple[str, str]]:
    """(importing module, imported module) for every import between two of our packages."""
    out = []
    for package in LAYER:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out += [(module, m) for m in imports(path) if m.split(".")[0] in LAYER]
    return out


def backward(edges: list[tuple[str, str]]) -> list[str]:
    """The arrows that run down-to-up or sideways between parts of one layer."""
    wrong = []
    for source, target in edges:
        a, b = source.split(".")[0], target.split(".")[0]
        if a != b and LAYER[b] >= LAYER[a]:
            wrong.append(f"{source} -> {target}")
    return wrong


def test_no_import_runs_back_up_the_layers() -> None:
    """The engine imports no part, no part imports another part or the assembly."""
    assert backward(arrows()) == []


def test_the_rule_finds_an_arrow_that_runs_back() -> None:
    """The check itself: an engine module importing ticketing, a part importing a part."""
    edges = [("engine.clinic", "ticketing.printer_config"), ("displays.push", "notifier.api"),
             ("clinicq.app", "engine.runtime"), ("loadtest.run", "clinicq.cli")]  # fmt: skip
    assert backward(edges) == [
        "engine.clinic -> ticketing.printer_config",
        "displays.push -> notifier.api",
    ]


def test_the_model_imports_no_io() -> None:
    """engine/model is plain functions over plain data: no I/O library, nothing else of ours."""
    problems = []
    for path in sorted((ROOT / "engine" / "model").rglob("*.py")):
        for module in imports(path):
            top = module.split(".")[0]
            if top in IO or (top in LAYER and not module.startswith(MODEL_MAY_IMPORT)):
                problems.append(f"{path.name} imports {module}")
    assert problems == []


def test_importing_the_model_loads_no_io_library() -> None:
    """Not even indirectly: importing every model module leaves the I/O libraries unloaded."""
    modules = sorted(p.stem for p in (ROOT / "engine" / "model").glob("*.py"))
    code = (
        "import sys\n"
        + "".join(f"import engine.model.{m}\n" for m in modules if m != "__init__")
        + f"print(','.join(sorted(m for m in {sorted(IO)!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""
