"""Rules that keep the shape: core imports no platform SDK; importing the packages starts nothing."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SDKS = {"discord", "slack_bolt", "slack_sdk"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


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


def test_importing_core_loads_no_platform_sdk_and_starts_nothing():
    code = (
        "import sys, threading, asyncio\n"
        "import core.engine, core.store, core.model, core.images, core.options, core.queue, bot.app, bot.settings\n"
        "assert not {'discord', 'slack_bolt', 'slack_sdk'} & set(sys.modules), sorted(sys.modules)\n"
        "assert threading.active_count() == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
