"""Sample-line formatting in Go's exact text-format spelling.

Values are written as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` does
(``42``, ``2398.283``, ``1.7957544919589317e+09``, ``1e-05``) so output is
byte-compatible with the Go Pushgateway's and diffs of scrapes stay quiet.
"""

from __future__ import annotations

import math

from promethean.model import Labels


def format_value(value: float) -> str:
    text = repr(value)
    # Fast path: Python's and Go's shortest forms agree inside [1e-4, 1e6), but for ".0".
    if "e" not in text and "n" not in text and 1e-4 <= abs(value) < 1e6:
        return text[:-2] if text.endswith(".0") else text
    return _format_value_slow(value)


def _format_value_slow(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    # Split Python's shortest representation into digits and decimal exponent.
    if "e" in text:
        mant, exp_text = text.split("e")
        exp = int(exp_text)
        int_part, _, frac = mant.partition(".")
        digits = (int_part + frac).lstrip("0")
        exp += len(int_part) - 1
    else:
        int_part, _, frac = text.partition(".")
        if frac == "0":
            frac = ""
        if int_part != "0":
            digits = (int_part + frac).rstrip("0") or "0"
            exp = len(int_part) - 1
        else:
            stripped = frac.lstrip("0")
            exp = -(len(frac) - len(stripped)) - 1
            digits = stripped
    digits = digits.rstrip("0") or "0"
    # Go's shortest 'g' switches to exponent form outside [1e-4, 1e6).
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        esign = "-" if exp < 0 else "+"
        return f"{sign}{mant}e{esign}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_value(v)}"' for k, v in labels) + "}"
