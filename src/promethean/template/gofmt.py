"""Go's ``fmt`` rendering of Python values.

Template output must be byte-identical to Go's, and Go prints through ``fmt``:
``%v`` for every action, ``fmt.Sprint`` spacing rules for ``print``, and the
``printf`` verbs (with Go's ``%!verb(type=value)`` complaints instead of
exceptions). Python's own formatting differs in many details (float exponents,
``True``, ``None``, list and dict syntax), so everything printed goes through
here.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

NO_VALUE = "<no value>"


class Missing:
    """Go's invalid ``reflect.Value``: a missing map entry or an absent dot."""

    _instance: Missing | None = None

    def __new__(cls) -> Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return NO_VALUE

    def __bool__(self) -> bool:
        return False


MISSING = Missing()


def go_type_name(v: Any) -> str:
    """The Go type name users see in error messages for a Python value."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    name = getattr(type(v), "__go_type__", None)
    if isinstance(name, str):
        return name
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    if callable(v):
        return "func"
    return type(v).__name__


# --- floats ---------------------------------------------------------------------------------


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-tripping decimal digits of ``abs(f)`` and the decimal point position."""
    _sign, digits, exp = Decimal(repr(abs(f))).as_tuple()
    ds = "".join(str(d) for d in digits).rstrip("0") or "0"
    assert isinstance(exp, int)
    # value = int(digits) * 10**exp; decimal point after dp digits of ds.
    dp = len(digits) + exp
    if ds == "0":
        dp = 1
    return ds, dp


def _exp_suffix(e: int) -> str:
    sign = "-" if e < 0 else "+"
    return f"e{sign}{abs(e):02d}"


def format_float_g(f: float, prec: int = -1) -> str:
    """strconv.FormatFloat(f, 'g', prec, 64): the shortest form when ``prec`` is -1."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = math.copysign(1.0, f) < 0
    if prec < 0:
        ds, dp = _shortest_digits(f)
        eprec = 6
    else:
        if prec == 0:
            prec = 1
        if f == 0:
            ds, dp = "0", 1
        else:
            s = f"{abs(f):.{prec - 1}e}"
            mant, _, ex = s.partition("e")
            ds = mant.replace(".", "").rstrip("0") or "0"
            dp = int(ex) + 1
        eprec = prec
        if eprec > len(ds) and len(ds) >= dp:
            eprec = len(ds)
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        body = ds[0] + ("." + ds[1:] if len(ds) > 1 else "") + _exp_suffix(exp)
    elif dp <= 0:
        body = "0." + "0" * (-dp) + ds
    elif dp >= len(ds):
        body = ds + "0" * (dp - len(ds))
    else:
        body = ds[:dp] + "." + ds[dp:]
    return ("-" if neg else "") + body


def format_float(f: float, verb: str, prec: int) -> str:
    """Go's %e %f %g (and upper-case forms) for one float, without width/flags."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if verb in "gG":
        s = format_float_g(f, prec)
        return s.upper() if verb == "G" else s
    if verb in "fF":
        return f"{f:.{6 if prec < 0 else prec}f}"
    if verb in "eE":
        s = f"{f:.{6 if prec < 0 else prec}e}"
        mant, _, ex = s.partition("e")
        s = mant + _exp_suffix(int(ex))
        return s.upper() if verb == "E" else s
    raise ValueError(verb)


# --- strings --------------------------------------------------------------------------------


def _is_print(ch: str) -> bool:
    if ch == " ":
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "LMNPS"


_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(s: str, quote: str = '"', ascii_only: bool = False) -> str:
    """strconv.Quote: Go escapes, printable Unicode kept as is."""
    out = [quote]
    for ch in s:
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _is_print(ch) and not (ascii_only and ord(ch) > 0x7E):
            out.append(ch)
        elif (ord(ch) < 0x80 and ord(ch) < 0x20) or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append(quote)
    return "".join(out)


# --- %v -------------------------------------------------------------------------------------


def _stringer(v: Any) -> Callable[[], Any] | None:
    meth = getattr(type(v), "String", None)
    if meth is not None and callable(meth):
        return v.String  # type: ignore[no-any-return]
    return None


def format_value(v: Any, top: bool = True) -> str:
    """fmt's %v. ``top`` is False inside containers, where nil prints as ``<nil>``."""
    if isinstance(v, str):
        return v
    if v is None or v is MISSING:
        return NO_VALUE if top else "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float_g(v)
    s = _stringer(v)
    if s is not None:
        return str(s())
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return (
            "map["
            + " ".join(f"{format_value(k, False)}:{format_value(x, False)}" for k, x in items)
            + "]"
        )
    if isinstance(v, list | tuple):
        return "[" + " ".join(format_value(x, False) for x in v) + "]"
    if isinstance(v, bytes):
        return "[" + " ".join(str(b) for b in v) + "]"
    fields = getattr(v, "__dataclass_fields__", None)
    if fields is not None:
        return "{" + " ".join(format_value(getattr(v, f), False) for f in fields) + "}"
    return str(v)


def _sort_key(k: Any) -> tuple[int, Any]:
    if isinstance(k, bool):
        return (0, k)
    if isinstance(k, int | float):
        return (1, k)
    if isinstance(k, str):
        return (2, k)
    return (3, str(k))


def sprint(args: Sequence[Any]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out: list[str] = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(a, False) if a is None else format_value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(args: Sequence[Any]) -> str:
    """fmt.Sprintln: always a space between operands, and a newline."""
    return " ".join(format_value(a, a is not None) for a in args) + "\n"


# --- printf ---------------------------------------------------------------------------------


def _bad(verb: str, a: Any) -> str:
    if a is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(a)}={format_value(a, False)})"


def _pad(s: str, width: int | None, minus: bool, zero: bool) -> str:
    if width is None or len(s) >= width:
        return s
    if minus:
        return s + " " * (width - len(s))
    if zero:
        sign = ""
        if s[:1] in "+- " and s[:1] != "":
            sign, s = s[0], s[1:]
        return sign + "0" * (width - len(s) - len(sign)) + s
    return " " * (width - len(s)) + s


def _fmt_int(n: int, verb: str, prec: int | None, plus: bool, sharp: bool, space: bool) -> str:
    neg = n < 0
    a = -n if neg else n
    if verb in "dv":
        body = str(a)
    elif verb == "x":
        body = f"{a:x}"
    elif verb == "X":
        body = f"{a:X}"
    elif verb == "o" or verb == "O":
        body = f"{a:o}"
    elif verb == "b":
        body = f"{a:b}"
    else:
        raise ValueError(verb)
    if prec is not None:
        if prec == 0 and a == 0:
            body = ""
        body = body.rjust(prec, "0")
    if sharp:
        if verb == "x":
            body = "0x" + body
        elif verb == "X":
            body = "0X" + body
        elif verb == "o" and not body.startswith("0"):
            body = "0" + body
        elif verb == "b":
            body = "0b" + body
    if verb == "O":
        body = "0o" + body
    if neg:
        return "-" + body
    if plus:
        return "+" + body
    if space:
        return " " + body
    return body


def _fmt_one(verb: str, a: Any, flags: str, width: int | None, prec: int | None) -> str:
    plus, minus, sharp, zero, space = (c in flags for c in "+-#0 ")
    s: str
    if verb == "T":
        s = go_type_name(a)
        return _pad(s, width, minus, False)
    if (verb == "v" and not isinstance(a, float | int)) or (isinstance(a, bool) and verb == "v"):
        if sharp and isinstance(a, str):
            s = go_quote(a)
        else:
            s = format_value(a, False) if a is None else format_value(a)
        return _pad(s, width, minus, False)
    if isinstance(a, bool):
        if verb in "tv":
            return _pad("true" if a else "false", width, minus, False)
        return _bad(verb, a)
    if isinstance(a, int):
        if verb in "dvxXobO":
            s = _fmt_int(a, verb, prec, plus, sharp, space)
            return _pad(s, width, minus, zero and prec is None)
        if verb == "c":
            return _pad(chr(a), width, minus, False)
        if verb == "q":
            return _pad(go_quote(chr(a), "'"), width, minus, False)
        if verb == "U":
            return _pad(f"U+{a:04X}", width, minus, False)
        return _bad(verb, a)
    if isinstance(a, float):
        if verb in "eEfFgGv":
            s = format_float(a, "g" if verb == "v" else verb, -1 if prec is None else prec)
            if plus and not s.startswith(("-", "+")):
                s = "+" + s
            elif space and not s.startswith(("-", "+")):
                s = " " + s
            return _pad(s, width, minus, zero and not math.isinf(a) and not math.isnan(a))
        return _bad(verb, a)
    if isinstance(a, str):
        if verb in "sv":
            s = a if prec is None else a[:prec]
        elif verb == "q":
            s = "`" + a + "`" if sharp and "`" not in a else go_quote(a, ascii_only=plus)
        elif verb in "xX":
            h = a.encode("utf-8").hex()
            s = h.upper() if verb == "X" else h
        else:
            return _bad(verb, a)
        return _pad(s, width, minus, False)
    if verb in "sv" or (verb == "d" and isinstance(a, list | tuple)):
        if isinstance(a, list | tuple) and verb != "v":
            return "[" + " ".join(_fmt_one(verb, x, flags, None, prec) for x in a) + "]"
        return _pad(format_value(a, False), width, minus, False)
    if verb == "q" and isinstance(a, list | tuple):
        return "[" + " ".join(_fmt_one(verb, x, flags, None, prec) for x in a) + "]"
    return _bad(verb, a)


def sprintf(fmt: str, args: Sequence[Any]) -> str:
    """fmt.Sprintf for the verbs templates use, with Go's in-band error reports."""
    out: list[str] = []
    i, n, argi = 0, len(fmt), 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width: int | None = None
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int):
                width = args[argi]
                argi += 1
            else:
                out.append("%!(BADWIDTH)")
        else:
            st = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > st:
                width = int(fmt[st:i])
        prec: int | None = None
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int):
                    prec = args[argi]
                    argi += 1
                else:
                    out.append("%!(BADPREC)")
            else:
                st = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[st:i]) if i > st else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[argi]
        argi += 1
        out.append(_fmt_one(verb, a, flags, width, prec))
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={format_value(a, False)}"
            for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
