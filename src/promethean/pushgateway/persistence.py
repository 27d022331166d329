"""Saving the store across restarts.

Two modes:

* periodic (upstream's): the whole store is written every
  ``--persistence.interval`` and at shutdown, atomically (temporary file,
  fsync, rename, fsync of the directory). A crash loses what was pushed
  since the last write, as with the Go Pushgateway.
* durable (``--persistence.durable``, beyond upstream): every accepted change
  (the push request itself: key, method, Content-Type, body, time) is also
  appended to ``<file>.log`` and fsynced *before* the push is acknowledged, so
  a SIGKILL loses nothing acknowledged; start-up replays the log through the
  same parse-and-check path. Each periodic snapshot empties the log.

A corrupt snapshot is an error at start-up, never silently an empty gateway;
``--persistence.ignore-corrupt`` starts empty on purpose. A torn last line in
the log (a crash mid-append) is expected and dropped with a warning.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from promethean.fsutil import write_atomically
from promethean.logs import kv
from promethean.model import MetricType
from promethean.model.errors import ParseError
from promethean.pushgateway.groupkey import GroupKey
from promethean.pushgateway.store import Family, Group, PushError, Series, Store, raw_labels
from promethean.pushgateway.textfmt import format_labels

log = logging.getLogger(__name__)
_FORMAT_VERSION = 1


class PersistenceError(RuntimeError):
    """The persistence file cannot be read; the message names the file and the problem."""


def _group_to_json(group: Group) -> dict[str, Any]:
    return {
        "key": [list(p) for p in group.key],
        "push_time": group.push_time,
        "failure_time": group.failure_time,
        "families": [
            {
                "name": fam.name,
                "type": fam.type.value,
                "help": fam.help,
                "unit": fam.unit,
                "samples": [[s.name, [list(p) for p in s.labels], v] for s, v in fam.samples()],
            }
            for fam in group.families.values()
        ],
    }


def _group_from_json(data: dict[str, Any]) -> Group:
    key: GroupKey = tuple((str(k), str(v)) for k, v in data["key"])
    families = {}
    for f in data["families"]:
        series, values = [], []
        for name, pairs, value in f["samples"]:
            labels = raw_labels({str(k): str(v) for k, v in pairs})
            series.append(Series(str(name) + format_labels(labels), str(name), labels))
            values.append(float(value))
        fam = Family(
            str(f["name"]), MetricType(f["type"]), f.get("help"), f.get("unit"), series, values
        )
        families[fam.name] = fam
    return Group(key, families, float(data["push_time"]), float(data["failure_time"]))


class Persistence:
    def __init__(self, path: str, durable: bool = False) -> None:
        self.path = Path(path)
        self.log_path = Path(path + ".log")
        self.durable = durable
        self._lock = threading.Lock()
        self._log_file: Any = None

    # -- start-up ----------------------------------------------------------

    def load(self, store: Store, ignore_corrupt: bool = False) -> int:
        """Fill ``store`` from the snapshot and the change log; returns groups loaded."""
        try:
            self._load_snapshot(store)
        except PersistenceError:
            if not ignore_corrupt:
                raise
            log.warning(
                "persistence file is corrupt; starting empty as requested",
                extra=kv(component="persistence", file=str(self.path)),
            )
            store.wipe()
        self._replay_log(store)
        return len(store.groups)

    def _load_snapshot(self, store: Store) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise PersistenceError(
                f"cannot read persistence file {self.path}: {exc.strerror}"
            ) from None
        try:
            doc = json.loads(raw)
            if doc.get("version") != _FORMAT_VERSION:
                raise ValueError(f"unsupported format version {doc.get('version')!r}")
            groups = [_group_from_json(g) for g in doc["groups"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PersistenceError(
                f"persistence file {self.path} is corrupt or truncated ({exc}); "
                "move it away or start with --persistence.ignore-corrupt to start empty"
            ) from None
        for group in groups:
            store.restore(group)

    def _replay_log(self, store: Store) -> None:
        try:
            raw = self.log_path.read_bytes()
        except FileNotFoundError:
            return
        good = 0
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                op = json.loads(line)
                self._apply(store, op)
            except (ValueError, KeyError, TypeError):
                break
            good += len(line)
        if good != len(raw):
            log.warning(
                "dropping a torn record at the end of the persistence log",
                extra=kv(component="persistence", file=str(self.log_path), offset=good),
            )
            with open(self.log_path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())

    @staticmethod
    def _apply(store: Store, op: dict[str, Any]) -> None:
        kind = op["op"]
        if kind == "push":
            key: GroupKey = tuple((str(k), str(v)) for k, v in op["key"])
            body = base64.b64decode(op["body"])
            try:
                families = store.prepare_body(key, body, str(op["ct"]))
                store.push(key, families, bool(op["replace"]), float(op["t"]))
            except (ParseError, PushError) as exc:
                # It was accepted when logged; refusing it now means the log is damaged.
                raise ValueError(f"logged push cannot be replayed: {exc}") from None
        elif kind == "delete":
            store.delete(tuple((str(k), str(v)) for k, v in op["key"]))
        elif kind == "wipe":
            store.wipe()
        else:
            raise ValueError(kind)

    # -- durable change log ------------------------------------------------

    def record(self, op: dict[str, Any]) -> None:
        """Append one change and fsync it (durable mode only); blocking: call off the loop."""
        if not self.durable:
            return
        line = (json.dumps(op, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._log_file is None:
                self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open
                os.chmod(self.log_path, 0o600)
            self._log_file.write(line)
            self._log_file.flush()
            os.fsync(self._log_file.fileno())

    @staticmethod
    def push_op(
        key: GroupKey, replace: bool, content_type: str, body: bytes, now: float
    ) -> dict[str, Any]:
        return {
            "op": "push",
            "key": [list(p) for p in key],
            "replace": replace,
            "ct": content_type,
            "t": now,
            "body": base64.b64encode(body).decode(),
        }

    @staticmethod
    def delete_op(key: GroupKey) -> dict[str, Any]:
        return {"op": "delete", "key": [list(p) for p in key]}

    # -- snapshots ---------------------------------------------------------

    def snapshot(self, store: Store) -> None:
        """Write the whole store atomically; blocking: call off the event loop."""
        with store.lock:
            doc = {
                "version": _FORMAT_VERSION,
                "groups": [_group_to_json(g) for g in store.iter_groups()],
            }
            # Hold our lock across the rename so no change lands between snapshot and log reset.
            with self._lock:
                self._write_atomically(json.dumps(doc, separators=(",", ":")).encode())
                if self.durable and self._log_file is not None:
                    self._log_file.truncate(0)
                    self._log_file.seek(0)
                    os.fsync(self._log_file.fileno())
        log.debug("metrics persisted", extra=kv(component="persistence", file=str(self.path)))

    def _write_atomically(self, data: bytes) -> None:
        write_atomically(self.path, data, tmp_suffix=f".in_progress.{os.getpid()}")

    def close(self) -> None:
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
