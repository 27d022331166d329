"""YAML loading that remembers where every value came from.

pydantic reports errors by location path (``("scrape_configs", 0, "job_name")``);
operators need a file and line. ``load_yaml`` therefore builds plain Python
values from the node tree itself and records the mark of every mapping key and
value, so a path can be turned back into ``file:line:column``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # The C loader is an order of magnitude faster on large files.
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

Path = tuple[int | str, ...]


class YAMLError(ValueError):
    """A file that is not valid YAML, with the position of the problem."""


@dataclass
class Positions:
    """Maps a value's path in the document to its 1-based (line, column)."""

    file: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path) -> str:
        """``file:line:col`` of the deepest known prefix of ``path``."""
        for n in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:n]))
            if mark is not None:
                return f"{self.file}:{mark[0]}:{mark[1]}"
        return self.file


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_yaml(text: str, file: str = "<input>") -> tuple[Any, Positions]:
    """Parse one YAML document into plain values plus their positions.

    Duplicate mapping keys are an error, as in Go's strict YAML decoding.
    """
    positions = Positions(file)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise YAMLError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YAMLError(f"{file}: invalid YAML: {exc}") from None
    if root is None:
        return None, positions
    constructor = yaml.SafeLoader("")

    def build(node: yaml.Node, path: Path) -> Any:
        positions.marks.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    line = _mark(key_node)[0]
                    raise YAMLError(f"{file}:{line}: YAML merge keys are not supported")
                key = build(key_node, (*path, "<key>"))
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise YAMLError(f"{file}:{_mark(key_node)[0]}: mapping key must be a scalar")
                if key in out:
                    line, col = _mark(key_node)
                    raise YAMLError(f"{file}:{line}:{col}: duplicate key {key!r}")
                child = (*path, key if isinstance(key, str | int) else str(key))
                positions.marks[child] = _mark(key_node)
                out[key] = build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            line, col = _mark(node)
            raise YAMLError(f"{file}:{line}:{col}: invalid value: {exc}") from None

    return build(root, ()), positions
