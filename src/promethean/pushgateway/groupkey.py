"""Grouping keys from push URLs: ``/metrics/job/<job>{/<label>/<value>}``.

The URL is the only place a group's identity comes from, so it is parsed
strictly and completely before anything is stored: the Go Pushgateway stored
a group whose base64 label value decoded to invalid UTF-8 and then failed
every later scrape and push (see the reference sheet); here such a key is
refused with 400 and nothing is kept.
"""

from __future__ import annotations

import base64
import binascii
import re

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_B64_SUFFIX = "@base64"


class GroupKeyError(ValueError):
    """A push URL that does not name a valid group; the message is shown to the client."""


GroupKey = tuple[tuple[str, str], ...]
"""Sorted ``(name, value)`` pairs; values may be empty (``instance=""`` is meaningful)."""


def go_quote(text: str) -> str:
    """Double-quoted like Go's %q, so messages read as upstream's do."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _decode(name: str, raw: str) -> str:
    if raw == "=" or raw == "":
        return ""
    padded = raw + "=" * (-len(raw) % 4)
    try:
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GroupKeyError(
            f"invalid base64 encoding for label {name}={go_quote(raw)}: {exc}"
        ) from None
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise GroupKeyError(
            f"invalid base64 encoding for label {name}: value is not valid UTF-8"
        ) from None


def _value(name_part: str, raw: str) -> tuple[str, str]:
    if name_part.endswith(_B64_SUFFIX):
        name = name_part[: -len(_B64_SUFFIX)]
        return name, _decode(name, raw)
    return name_part, raw


def parse_group_path(tail: str) -> GroupKey:
    """Parse the path after ``/metrics/``, e.g. ``job/j1/instance@base64/aTE=``."""
    parts = tail.split("/")
    if len(parts) < 2 or parts[0] not in ("job", "job" + _B64_SUFFIX):
        raise GroupKeyError("404 page not found")
    _, job = _value(parts[0], parts[1])
    if not job:
        raise GroupKeyError("job name is required")
    labels: dict[str, str] = {"job": job}
    rest = parts[2:]
    if len(rest) % 2:
        raise GroupKeyError(
            f"odd number of components in label string {go_quote('/' + '/'.join(rest))}"
        )
    for i in range(0, len(rest), 2):
        name, value = _value(rest[i], rest[i + 1])
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise GroupKeyError(f"improper label name {go_quote(name)}")
        labels[name] = value
    if not labels["job"]:
        raise GroupKeyError("job name is required")
    return tuple(sorted(labels.items()))


def group_path(key: GroupKey) -> str:
    """The canonical push path of a group (values base64-encoded where needed)."""
    out = []
    for name, value in key:
        if value == "" or "/" in value:
            enc = base64.urlsafe_b64encode(value.encode()).decode() or "="
            out.append(f"{name}{_B64_SUFFIX}/{enc}")
        else:
            out.append(f"{name}/{value}")
    job = [p for p in out if p.startswith("job")]
    others = [p for p in out if not p.startswith("job")]
    return "/metrics/" + "/".join(job + others)
