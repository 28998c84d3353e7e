"""Turning pydantic validation failures into one clear :class:`~sasim.errors.SpecError`.

pydantic reports a location tuple such as ``('levels', 2, 'banks')``; users read
``architecture.levels[2].banks``. The first error is reported (the others are
usually consequences of it) with the offending value and the rule it broke.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sasim.errors import SpecError

__all__ = ["field_path", "parse_model", "IDENTIFIER_RE", "check_identifier"]

M = TypeVar("M", bound=BaseModel)

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(value: str) -> str:
    """Accept ``value`` if it is a plain identifier (letters, digits, ``_``, no leading digit)."""
    if not IDENTIFIER_RE.match(value):
        raise ValueError(
            f"name {value!r} is not a valid identifier: use letters, digits and '_', "
            "starting with a letter or '_'"
        )
    return value


def field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location tuple as ``prefix.a.b[2].c``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (the key)"
        elif part in _TYPE_TAGS or part.startswith(("function-", "tagged-union", "literal[", "constrained-")):
            continue  # pydantic names the union member it tried; users do not care
        else:
            path += f".{part}" if path else part
    return path


_TYPE_TAGS = frozenset({"int", "str", "float", "bool", "list", "dict", "tuple", "list[...]", "is-instance"})


def _describe(err: Any) -> str:
    kind = err.get("type", "")
    msg: str = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see docs/reference.md for the allowed keys)"
    if kind == "missing":
        return "required key is missing"
    value = err.get("input")
    if kind in {"value_error", "assertion_error"} or value is None or isinstance(value, dict) or ", not " in msg:
        return msg
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{msg}, not {shown}"


def parse_model(model: type[M], data: Any, where: str) -> M:
    """Validate ``data`` as ``model``; on failure raise :class:`SpecError` naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        path = field_path(where, tuple(first.get("loc", ())))
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise SpecError(f"{path}: {_describe(first)}{more}") from None
