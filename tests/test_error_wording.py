"""Error messages speak the command line: no user's error (an EndobenchError) names a Python
keyword argument (``resume=True``, ``on_problem='skip'``) where a flag is meant."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "endobench"
#: Errors a program makes, not a user: their messages may name arguments.
PROGRAMMER_ERRORS = {"ValueError", "TypeError", "RuntimeError", "KeyError", "AssertionError"}
KEYWORD = re.compile(r"\b[a-z][a-z0-9_]*=(True|False|None|'|\"|$)")


def _message_text(node: ast.AST) -> str:
    """The literal parts of a raised error's message (f-string values left out)."""
    parts = []
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            parts.append(child.value)
    return "\x00".join(parts)


def test_no_user_error_names_a_python_keyword():
    offenders, checked = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
                continue
            name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
            if name in PROGRAMMER_ERRORS or not node.exc.args:
                continue
            checked += 1
            for text in _message_text(node.exc.args[0]).split("\x00"):
                if KEYWORD.search(text):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {text!r}")
    assert checked > 200
    assert offenders == []
