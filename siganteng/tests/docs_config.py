"""What ``siganteng/settings.py`` reads from the environment, found by reading its source.

The configuration reference (docs/reference/configuration.md) is checked against this
by ``siganteng/tests/test_docs_config.py``, so the table cannot drift from the code. The
settings module is parsed, not imported: importing it would evaluate the defaults on this
machine (paths, DEBUG-dependent lists) and read the environment of the test run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SETTINGS_PATH = Path(__file__).resolve().parents[1] / "settings.py"

# The readers of siganteng/env.py and the value each returns when the variable is unset
# and the call names no default.
READERS: dict[str, object] = {
    "env_str": "",
    "env_bool": False,
    "env_int": None,  # the default is a required argument
    "env_float": None,
    "env_list": [],
    "env_choice": None,
}


@dataclass(frozen=True)
class EnvVar:
    """One variable read by the settings: its name, its default as the docs write it, and
    the settings names a derived default depends on (empty for a literal default)."""

    name: str
    default: str
    depends_on: tuple[str, ...] = ()


def format_default(value: object) -> str:
    """The default as the configuration table writes it: ``true``/``false``, numbers as
    Python prints them, lists comma-separated, and ``—`` for empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value in ("", None) or value == []:
        return "—"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _default_node(call: ast.Call, reader: str) -> ast.expr | None:
    args = call.args[2:3] if reader == "env_choice" else call.args[1:2]
    keywords = [kw.value for kw in call.keywords if kw.arg == "default"]
    return (args or keywords or [None])[0]


def _evaluate(node: ast.expr) -> object:
    """A default made of literals and arithmetic (``20 * 1024 * 1024``) evaluates; one that
    names other settings raises ValueError."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name | ast.Call | ast.Attribute):
            raise ValueError("not a literal")
    return eval(compile(ast.Expression(node), "<default>", "eval"), {"__builtins__": {}})  # noqa: S307


def settings_env_vars(path: Path = SETTINGS_PATH) -> dict[str, EnvVar]:
    """Every variable the settings read through siganteng/env.py, by name, in source order.

    Raises ValueError when one variable is read twice with different defaults."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: dict[str, EnvVar] = {}
    first_line: dict[str, int] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in READERS):
            continue
        reader = node.func.id
        if not node.args or not isinstance(node.args[0], ast.Constant):
            raise ValueError(f"line {node.lineno}: {reader}() must name its variable with a string literal")
        name = node.args[0].value
        default_node = _default_node(node, reader)
        if default_node is None:
            var = EnvVar(name, format_default(READERS[reader]))
        else:
            try:
                var = EnvVar(name, format_default(_evaluate(default_node)))
            except ValueError:
                names = sorted({n.id for n in ast.walk(default_node) if isinstance(n, ast.Name) and n.id.isupper()})
                var = EnvVar(name, ast.unparse(default_node), tuple(names))
        if name in found and found[name] != var:
            raise ValueError(f"{name} is read twice with different defaults: {found[name]} and {var}")
        found[name] = var
        first_line[name] = min(node.lineno, first_line.get(name, node.lineno))
    return dict(sorted(found.items(), key=lambda item: first_line[item[0]]))
