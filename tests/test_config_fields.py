"""Every TrainingConfig field is read by the code that runs: a field nothing reads is a dead flag (a bug).

A field counts as read when engine/ or qstore_tui/ (outside the engine/config/ package) reads it as an
attribute of a config object (`config.x`, `cfg.x`, `self.config.x`, `getattr(cfg, "x")`), or calls a
public TrainingConfig method or property that reads it (`cfg.spsa_stability(...)` reads `spsa_A`).
Validation inside engine/config/ does not count: checking a value is not using it; nor does the report,
which only echoes the config (a switch that is printed but changes nothing is still dead). Fields that only the
UI reads must be listed in UI_ONLY with the reason, so that a field quietly losing its engine use is
noticed too.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from engine.config import TrainingConfig

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PKG = ROOT / "engine" / "config"
CONFIG_MODEL = CONFIG_PKG / "model.py"
SOURCES = ("engine", "qstore_tui")
ECHO_ONLY = ROOT / "engine" / "report"  # prints config values; reading them there is not using them
_CONFIG_NAME = re.compile(r"(?:config|cfg)$", re.IGNORECASE)

# field -> why only the UI reads it
UI_ONLY: dict[str, str] = {}


def _method_reads() -> dict[str, set[str]]:
    """Public TrainingConfig methods and properties -> the fields they read through `self`."""
    fields = set(TrainingConfig.model_fields)
    tree = ast.parse(CONFIG_MODEL.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TrainingConfig")
    out: dict[str, set[str]] = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            out[node.name] = {
                a.attr for a in ast.walk(node)
                if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "self"
                and a.attr in fields
            }
    return out


def _is_config(node: ast.AST) -> bool:
    """`config`, `cfg`, `self.config`, `session.config`, ...: an expression naming a config object."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return bool(_CONFIG_NAME.search(name))


def _attribute_reads(source: str) -> set[str]:
    """Attributes read from config objects in code; comments and docstrings do not count."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _is_config(node.value):
            names.add(node.attr)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and _is_config(node.args[0])
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            names.add(node.args[1].value)
    return names


def _reads_by_package() -> dict[str, dict[str, list[str]]]:
    """package -> field -> files that read it."""
    fields = set(TrainingConfig.model_fields)
    methods = _method_reads()
    found: dict[str, dict[str, list[str]]] = {pkg: defaultdict(list) for pkg in SOURCES}
    for pkg in SOURCES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if path.is_relative_to(CONFIG_PKG) or path.is_relative_to(ECHO_ONLY):
                continue
            for name in _attribute_reads(path.read_text()):
                for field in ({name} & fields) | methods.get(name, set()):
                    found[pkg][field].append(str(path.relative_to(ROOT)))
    return found


def test_the_scan_sees_known_reads():
    """The scanner itself works: fields this test's author knows are used are found where they are."""
    found = _reads_by_package()
    assert "engine/trainer.py" in found["engine"]["learning_rate"]
    assert "engine/trainer.py" in found["engine"]["spsa_A"]  # through cfg.spsa_stability(...)
    assert "engine/model.py" in found["engine"]["circuit_depth"]


def test_a_field_named_only_in_a_docstring_or_comment_is_not_a_read():
    source = '''"""Uses `TrainingConfig.quantum_sdk`."""
# cfg.seed is mentioned here
x = self.config.epochs
y = f"{cfg.n_qubits}"
z = getattr(cfg, "batch_size")
'''
    assert _attribute_reads(source) == {"epochs", "n_qubits", "batch_size"}


def test_every_config_field_is_read_somewhere():
    found = _reads_by_package()
    dead = sorted(f for f in TrainingConfig.model_fields if not found["engine"].get(f) and not found["qstore_tui"].get(f))
    assert dead == [], f"TrainingConfig fields nothing reads (dead flags): {dead}"


def test_fields_only_the_ui_reads_are_marked():
    found = _reads_by_package()
    ui_only = {f for f in TrainingConfig.model_fields if found["qstore_tui"].get(f) and not found["engine"].get(f)}
    assert ui_only == set(UI_ONLY), (
        f"read only by qstore_tui but not marked: {sorted(ui_only - set(UI_ONLY))}; "
        f"marked but now read by the engine (or by nothing): {sorted(set(UI_ONLY) - ui_only)}"
    )
