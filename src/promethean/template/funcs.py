"""Go's predefined template functions (text/template ``builtins``).

Each function raises ``FuncError`` with Go's message, which the executor
reports as ``error calling NAME: MESSAGE``. ``and``/``or`` are short-circuit
in the executor (Go 1.18+); the functions here are their eager fallbacks for
``call``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promethean.template.errors import FuncError
from promethean.template.escaping import html_escape, js_escape, url_query_escape
from promethean.template.exec import _LAZY, is_true
from promethean.template.gofmt import MISSING, go_type_name, sprint, sprintf, sprintln


def _nil(v: Any) -> Any:
    return None if v is MISSING else v


def _and(arg0: Any, *args: Any) -> Any:
    for a in (arg0, *args):
        if not is_true(a):
            return a
    return args[-1] if args else arg0


def _or(arg0: Any, *args: Any) -> Any:
    for a in (arg0, *args):
        if is_true(a):
            return a
    return args[-1] if args else arg0


def _not(arg: Any) -> bool:
    return not is_true(arg)


def _len(item: Any) -> int:
    if item is None or item is MISSING:
        raise FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8"))
    if isinstance(item, list | tuple | Mapping | bytes):
        return len(item)
    raise FuncError(f"len of type {go_type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None or index is MISSING:
        raise FuncError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise FuncError(f"cannot index slice/array with type {go_type_name(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if item is None or item is MISSING:
        raise FuncError("index of untyped nil")
    for index in indexes:
        if item is None or item is MISSING:
            raise FuncError("index of nil pointer")
        if isinstance(item, str):
            b = item.encode("utf-8")
            x = _index_arg(index, len(b))
            if x == len(b):
                raise FuncError(f"index out of range: {x}")
            item = b[x]
        elif isinstance(item, list | tuple):
            x = _index_arg(index, len(item))
            if x == len(item):
                raise FuncError(f"index out of range: {x}")
            item = item[x]
        elif isinstance(item, Mapping):
            try:
                item = item[index]
            except (KeyError, TypeError):
                item = getattr(type(item), "__go_zero__", None)
        else:
            raise FuncError(f"can't index item of type {go_type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None or item is MISSING:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8")
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {go_type_name(item)}")
    idx = [0, len(seq), len(seq)]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0] : idx[1]]
    if isinstance(item, str):
        return out.decode("utf-8", errors="replace")
    return out


def _printable_args(args: tuple[Any, ...]) -> str:
    """Go's evalArgs: a single string as is, otherwise fmt.Sprint with ``<no value>``."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if a is None or a is MISSING else a for a in args])


def _print(*args: Any) -> str:
    return sprint([_nil(a) for a in args])


def _println(*args: Any) -> str:
    return sprintln([_nil(a) for a in args])


def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, [_nil(a) for a in args])


def _html(*args: Any) -> str:
    return html_escape(_printable_args(args))


def _js(*args: Any) -> str:
    return js_escape(_printable_args(args))


def _urlquery(*args: Any) -> str:
    return url_query_escape(_printable_args(args))


def _call(fn: Any, *args: Any) -> Any:
    if fn is None or fn is MISSING:
        raise FuncError("call of nil")
    if not callable(fn):
        raise FuncError(f"non-function of type {go_type_name(fn)}")
    return fn(*args)


# --- comparison -----------------------------------------------------------------------------

_BAD_TYPE = "invalid type for comparison"
_INCOMPATIBLE = "incompatible types for comparison"


def _kind(v: Any) -> str:
    if v is None or v is MISSING:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(arg1: Any, *arg2: Any) -> bool:
    if not arg2:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in arg2:
        k2 = _kind(arg)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise FuncError(_INCOMPATIBLE)
            continue
        if k1 == "other":
            if isinstance(arg1, list | dict) or isinstance(arg, list | dict):
                raise FuncError(f"non-comparable type {arg}: {go_type_name(arg)}")
            if type(arg1) is not type(arg):
                raise FuncError(_INCOMPATIBLE)
        if arg1 == arg or (k1 == "invalid"):
            return True
    return False


def _ne(arg1: Any, arg2: Any) -> bool:
    return not _eq(arg1, arg2)


def _lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _kind(arg1), _kind(arg2)
    if k1 not in ("int", "float", "string"):
        raise FuncError(_BAD_TYPE)
    if k2 not in ("int", "float", "string"):
        raise FuncError(_BAD_TYPE)
    if k1 != k2:
        raise FuncError(_INCOMPATIBLE)
    return bool(arg1 < arg2)


def _le(arg1: Any, arg2: Any) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: Any, arg2: Any) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: Any, arg2: Any) -> bool:
    return not _lt(arg1, arg2)


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "call": _call,
    "html": _html,
    "index": _index,
    "slice": _slice,
    "js": _js,
    "len": _len,
    "not": _not,
    "or": _or,
    "print": _print,
    "printf": _printf,
    "println": _println,
    "urlquery": _urlquery,
    "eq": _eq,
    "ge": _ge,
    "gt": _gt,
    "le": _le,
    "lt": _lt,
    "ne": _ne,
}

_LAZY.update({"and": _and, "or": _or})
