"""Rules that keep the shape: core imports no platform SDK and nothing above it; adapters import no `bot` and not
each other; benchmarks import no test module; importing the packages starts nothing."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SDKS = {"discord", "slack_bolt", "slack_sdk"}

# (the modules under this package, may not import modules under any of these)
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("adapters", "bot", *sorted(PLATFORM_SDKS))),
    ("adapters", ("bot",)),
    ("adapters.discord", ("adapters.slack", "adapters.console")),
    ("adapters.slack", ("adapters.discord", "adapters.console")),
    ("adapters.console", ("adapters.discord", "adapters.slack")),
)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> set[str]:
    """Every module `path` imports, in full (`from a.b import c` counts as `a.b` and `a.b.c`), relative ones resolved,
    type-only ones (under `if TYPE_CHECKING:`) included."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # from . import x (level 1: this package), from ..y import z (level 2: its parent)
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def imported_modules(path: Path) -> set[str]:
    """Top-level packages a file imports (absolute imports)."""
    return {name.split(".")[0] for name in imports_of(path, path.parent)}


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def is_test_module(name: str) -> bool:
    """A module of tests (`tests...test_x`, a conftest), as opposed to the fakes and pictures tests share."""
    parts = name.split(".")
    return _under(name, "tests") and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def layer_violations(root: Path) -> dict[str, list[str]]:
    """For each offending module under `root`: the imports that point up or sideways."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if ".venv" in path.parts or "tests" in path.relative_to(root).parts[:1]:
            continue
        name = module_name(path, root)
        imported = imports_of(path, root)
        banned = [b for layer, below in LAYERS if _under(name, layer) for b in below]
        bad = {i for i in imported if any(_under(i, b) for b in banned)}
        if _under(name, "bench"):
            bad |= {i for i in imported if is_test_module(i)}
        if bad:
            found[name] = sorted(bad)
    return found


def import_cycles(root: Path, packages: tuple[str, ...] = ("core", "adapters", "bot")) -> list[list[str]]:
    """Cycles among the modules of `packages`, type-only and function-local imports included (a package's
    `__init__` is left out: importing `a.b` loads `a`, which imports nothing here)."""
    modules = {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if ".venv" not in path.parts and path.name != "__init__.py"
    }
    graph = {name: sorted(i for i in imports_of(path, root) if i in modules and i != name)
             for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for nxt in graph[name]:
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name)
    return cycles


def test_core_imports_no_platform_sdk():
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & PLATFORM_SDKS)
        for path in (ROOT / "core").rglob("*.py")
        if imported_modules(path) & PLATFORM_SDKS
    }
    assert offenders == {}


def test_the_check_itself_catches_an_sdk_import(tmp_path):
    leaky = tmp_path / "leaky.py"
    leaky.write_text("import os\nfrom slack_sdk.web import WebClient\nimport discord.ext.commands\n")
    assert imported_modules(leaky) & PLATFORM_SDKS == {"slack_sdk", "discord"}


def test_no_import_points_up_or_sideways():
    """core imports neither adapters nor bot; adapters import no bot; the platforms do not import each other (nor
    the console them); bench imports no test module."""
    assert layer_violations(ROOT) == {}


def test_the_layer_check_catches_each_kind_of_offender(tmp_path):
    files = {
        "core/__init__.py": "",
        "core/leaky.py": "from adapters.http import fetch\n",
        "core/upward.py": "import bot.settings\n",
        "adapters/__init__.py": "",
        "adapters/http.py": "import aiohttp\n",
        "adapters/discord/__init__.py": "",
        "adapters/discord/app.py": "import typing\nif typing.TYPE_CHECKING:\n    from bot.settings import X\n",
        "adapters/discord/flows.py": "from ..slack import translate\nfrom adapters.http import fetch\n",
        "adapters/slack/__init__.py": "",
        "adapters/slack/translate.py": "from . import config\nfrom adapters.slack.config import SlackConfig\n",
        "adapters/console.py": "from adapters.discord.translate import caption\n",
        "bench/__init__.py": "",
        "bench/run.py": "from tests.scenarios.slack.test_adapter import serving\nfrom tests.emulators.slack import E\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = layer_violations(tmp_path)
    assert found == {
        "core.leaky": ["adapters.http", "adapters.http.fetch"],
        "core.upward": ["bot.settings"],
        "adapters.discord.app": ["bot.settings", "bot.settings.X"],
        "adapters.discord.flows": ["adapters.slack", "adapters.slack.translate"],
        "adapters.console": ["adapters.discord.translate", "adapters.discord.translate.caption"],
        "bench.run": ["tests.scenarios.slack.test_adapter"],
    }


def test_no_import_cycle_between_modules_type_only_ones_included():
    """Flows get a narrow context (adapters/discord/context.py), not the client module that builds them."""
    assert import_cycles(ROOT) == []


def test_the_cycle_check_catches_a_type_only_cycle(tmp_path):
    files = {
        "adapters/__init__.py": "",
        "adapters/discord/__init__.py": "",
        "adapters/discord/app.py": "from adapters.discord.flows import Flows\n",
        "adapters/discord/flows.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                     "    from adapters.discord.app import Bot\n",
        "adapters/discord/plain.py": "from adapters.discord import flows\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert import_cycles(tmp_path, ("adapters",)) == [
        ["adapters.discord.app", "adapters.discord.flows", "adapters.discord.app"]
    ]


def test_importing_core_loads_no_platform_sdk_and_starts_nothing():
    code = (
        "import sys, threading, asyncio\n"
        "import core.engine, core.store, core.model, core.images, core.options, core.queue, bot.app, bot.settings\n"
        "assert not {'discord', 'slack_bolt', 'slack_sdk'} & set(sys.modules), sorted(sys.modules)\n"
        "assert threading.active_count() == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
