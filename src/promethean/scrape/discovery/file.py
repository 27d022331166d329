"""``file_sd_configs``: targets from JSON or YAML files, re-read on change and periodically.

Why polling: it works the same on every filesystem (including the bind mounts
and ConfigMaps where inotify events go missing); upstream also re-reads every
``refresh_interval`` as a safety net. A file is re-read when its modification
time, size or inode changes, and every ``refresh_interval`` regardless. A file
that fails to parse keeps the targets it last produced, and the reason is
logged; a file that disappears takes its targets with it.

Each group gets ``__meta_filepath`` (the file it came from), and its source is
``<path>:<index>`` as upstream.
"""

from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationInfo, field_validator

from promethean.config import ConfigModel
from promethean.config.fields import Duration
from promethean.scrape.discovery.targetgroup import ADDRESS_LABEL, TargetGroup, check_label_set

__all__ = ["FileDiscovery", "FileSDConfig", "parse_file_groups"]

_log = logging.getLogger("promethean.scrape.discovery.file")

# Upstream's patFileSDName: a glob only in the last path element, known extensions.
_FILE_SD_NAME = re.compile(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")
FILEPATH_LABEL = "__meta_filepath"


class FileSDConfig(ConfigModel):
    """One ``file_sd_configs`` entry."""

    files: list[str] = Field(default_factory=list)
    refresh_interval: Duration = 300.0

    @field_validator("files")
    @classmethod
    def _files(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value:
            raise ValueError("file service discovery config must contain at least one path name")
        base = (info.context or {}).get("base_dir")
        out = []
        for name in value:
            if not _FILE_SD_NAME.match(name):
                raise ValueError(f'path name "{name}" is not valid for file discovery')
            if base is not None and not os.path.isabs(name):
                name = str(Path(base) / name)
            out.append(name)
        return out

    @field_validator("files", mode="before")
    @classmethod
    def _null_files(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("file service discovery config must contain at least one path name")
        return value


def parse_file_groups(path: str, data: bytes) -> list[TargetGroup]:
    """Parse one file's content; ValueError says what is wrong (never a traceback)."""
    lower = path.lower()
    try:
        if lower.endswith(".json"):
            doc: Any = json.loads(data)
        else:
            doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ValueError(f"invalid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ValueError("file is not valid UTF-8") from None
    if doc is None:
        doc = []
    if not isinstance(doc, list):
        raise ValueError("file must contain a list of target groups")
    groups = []
    for i, entry in enumerate(doc):
        if not isinstance(entry, dict):
            raise ValueError(f"target group {i}: must be a mapping with targets and labels")
        unknown = set(entry) - {"targets", "labels"}
        if unknown:
            raise ValueError(f"target group {i}: unknown field {sorted(map(str, unknown))[0]}")
        targets = entry.get("targets") or []
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError(f"target group {i}: targets must be a list of strings")
        raw_labels = entry.get("labels") or {}
        if not isinstance(raw_labels, dict):
            raise ValueError(f"target group {i}: labels must be a mapping")
        try:
            labels = check_label_set(raw_labels)
        except ValueError as exc:
            raise ValueError(f"target group {i}: {exc}") from None
        labels[FILEPATH_LABEL] = path
        groups.append(
            TargetGroup(
                source=f"{path}:{i}",
                targets=[{ADDRESS_LABEL: t} for t in targets],
                labels=labels,
            )
        )
    return groups


_Signature = tuple[int, int, int]  # (mtime_ns, size, inode)
SendFn = Callable[[list[TargetGroup]], None]


class FileDiscovery:
    """Watches the files of one ``file_sd_configs`` entry.

    :meth:`refresh` is synchronous and returns the groups that changed (an
    empty group for every source that went away), so tests and the manager can
    drive it without timers; :meth:`run` polls it until cancelled.
    """

    def __init__(self, cfg: FileSDConfig, poll_interval: float = 1.0) -> None:
        self.cfg = cfg
        self.poll_interval = min(poll_interval, cfg.refresh_interval or poll_interval)
        self._seen: dict[str, tuple[_Signature, list[TargetGroup]]] = {}
        self._last_full = 0.0

    def _paths(self) -> list[str]:
        out: set[str] = set()
        for pattern in self.cfg.files:
            out.update(p for p in glob.glob(pattern) if os.path.isfile(p))
        return sorted(out)

    def refresh(self, *, force: bool = False) -> list[TargetGroup]:
        """Re-read what changed (everything when ``force``); return the changed groups."""
        now = time.monotonic()
        if self.cfg.refresh_interval and now - self._last_full >= self.cfg.refresh_interval:
            force = True
        if force:
            self._last_full = now
        changed: list[TargetGroup] = []
        current = self._paths()
        for path in current:
            try:
                st = os.stat(path)
            except OSError:
                continue
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
            previous = self._seen.get(path)
            if previous is not None and previous[0] == sig and not force:
                continue
            old_groups = previous[1] if previous is not None else []
            try:
                groups = parse_file_groups(path, Path(path).read_bytes())
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                _log.error(
                    "Error reading file; keeping its last good targets",
                    extra={"fields": {"path": path, "err": reason}},
                )
                self._seen[path] = (sig, old_groups)
                continue
            self._seen[path] = (sig, groups)
            if groups != old_groups:
                changed.extend(groups)
                changed.extend(TargetGroup(source=g.source) for g in old_groups[len(groups) :])
        for path in set(self._seen) - set(current):
            _sig, old_groups = self._seen.pop(path)
            changed.extend(TargetGroup(source=g.source) for g in old_groups)
        return changed

    async def run(self, send: SendFn) -> None:
        """Send the initial groups, then every change, until cancelled."""
        send(self.refresh(force=True))
        while True:
            await asyncio.sleep(self.poll_interval)
            changed = self.refresh()
            if changed:
                send(changed)
