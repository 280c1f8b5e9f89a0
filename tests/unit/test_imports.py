"""The package's import structure: no import cycles, and every module imports on its own.

A cycle is found by ``scripts/check_imports.py`` (loaded from this checkout). A module
that imports only when another one was imported first is found by importing each module
in a process where no ``mainflux`` module was imported before: one helper process imports
the third-party libraries the package uses, then forks one child per module."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def checker() -> ModuleType:
    """``scripts/check_imports.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        "check_imports", ROOT / "scripts/check_imports.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_import_cycles() -> None:
    check = checker()
    found = check.cycles(check.import_graph(SRC))
    assert found == []


def test_the_mqtt_adapter_imports_only_downward() -> None:
    check = checker()
    graph = check.import_graph(SRC)
    mqtt = {
        n: {t for t in ts if t.startswith("mainflux.adapters.mqtt.")} for n, ts in graph.items()
    }
    mqtt = {n: ts for n, ts in mqtt.items() if n.startswith("mainflux.adapters.mqtt.")}
    assert check.cycles(mqtt) == []
    assert "mainflux.adapters.mqtt.connection" not in graph["mainflux.adapters.mqtt.broker"]
    assert "mainflux.adapters.mqtt.codec5" not in graph["mainflux.adapters.mqtt.codec"]


def test_the_checker_finds_a_cycle_however_it_is_written(tmp_path: Path) -> None:
    package = tmp_path / "mainflux"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("from mainflux.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from . import c\n")
    (package / "sub" / "c.py").write_text("import mainflux.sub.a\n")
    (package / "sub" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mainflux.sub import a\n"
    )
    check = checker()
    assert check.cycles(check.import_graph(tmp_path)) == [
        ["mainflux.sub.a", "mainflux.sub.b", "mainflux.sub.c"]
    ]


# Imports each module named on the command line in a forked child of a process that
# has imported the package's third-party libraries and no ``mainflux`` module; prints
# one "<module>\t<error>" line per module that fails.
IMPORT_EACH = r"""
import ast, importlib, os, sys, traceback
from pathlib import Path

src, names = Path(sys.argv[1]), sys.argv[2:]
libraries = set()
for path in (src / "mainflux").rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            libraries.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            libraries.add(node.module)
for name in sorted(libraries):
    if name.split(".")[0] != "mainflux":
        try:
            importlib.import_module(name)
        except Exception:
            pass
assert not [m for m in sys.modules if m.split(".")[0] == "mainflux"], "mainflux imported"

def child(name, out):
    try:
        importlib.import_module(name)
    except BaseException:
        os.write(out, traceback.format_exc()[-4000:].encode())
        os._exit(1)
    os._exit(0)

running = {}
def reap():
    pid, status = os.wait()
    name, read = running.pop(pid)
    error = os.read(read, 8000).decode(errors="replace")
    os.close(read)
    if status:
        print(name + "\t" + (error.strip().splitlines() or ["exit status %d" % status])[-1])

for name in names:
    while len(running) >= (os.cpu_count() or 2):
        reap()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        child(name, write)
    os.close(write)
    running[pid] = (name, read)
while running:
    reap()
"""


def test_every_module_imports_on_its_own() -> None:
    modules = sorted(checker().import_graph(SRC))
    # Scripts run by a program, not imported: ``python -m``'s ``__main__`` and Alembic's
    # ``env`` (it needs the context Alembic sets up).
    modules = [m for m in modules if not m.endswith((".__main__", ".migrations.env"))]
    assert len(modules) > 100 and "mainflux.adapters.mqtt.version5" in modules
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, str(SRC), *modules],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", "modules that do not import on their own:\n" + done.stdout
