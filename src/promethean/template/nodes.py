"""Parse-tree nodes of a Go text/template.

Templates are parsed once and executed many times, so the tree is plain data
(slotted classes) that the executor walks without re-reading any text. Every
node keeps its byte offset ``pos`` into the source so that execution errors can
name the line and column the way Go does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:  # pragma: no cover - every node overrides
        return ""


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return repr(self.text)


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class BoolNode(Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        super().__init__(pos)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class NumberNode(Node):
    """A numeric constant; ``value`` is already the Go "ideal constant" (int or float)."""

    __slots__ = ("is_float", "is_int", "text", "value")

    def __init__(self, pos: int, text: str, value: int | float, is_int: bool, is_float: bool):
        super().__init__(pos)
        self.text = text
        self.value = value
        self.is_int = is_int
        self.is_float = is_float

    def __str__(self) -> str:
        return self.text


class StringNode(Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        super().__init__(pos)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class FieldNode(Node):
    """``.A.B``: a chain of field names looked up from dot."""

    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.ident = ident

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


class VariableNode(Node):
    """``$x.A.B``: ``ident[0]`` is the variable name including ``$``."""

    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.ident = ident

    def __str__(self) -> str:
        return ".".join(self.ident)


class IdentifierNode(Node):
    """A function name."""

    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class ChainNode(Node):
    """``(pipeline).A.B`` or ``$x`` fields applied to any other term."""

    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = fields

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + f for f in self.fields)


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node]) -> None:
        super().__init__(pos)
        self.args = args

    def __str__(self) -> str:
        parts = []
        for a in self.args:
            parts.append(f"({a})" if isinstance(a, PipeNode) else str(a))
        return " ".join(parts)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int, decl: list[VariableNode], is_assign: bool) -> None:
        super().__init__(pos)
        self.decl = decl
        self.is_assign = is_assign
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.nodes: list[Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class BranchNode(Node):
    """Shared shape of ``if``, ``range`` and ``with``."""

    __slots__ = ("else_list", "keyword", "list", "pipe")

    def __init__(
        self, pos: int, keyword: str, pipe: PipeNode, body: ListNode, else_list: ListNode | None
    ) -> None:
        super().__init__(pos)
        self.keyword = keyword
        self.pipe = pipe
        self.list = body
        self.else_list = else_list

    def __str__(self) -> str:
        s = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class IfNode(BranchNode):
    __slots__ = ()


class RangeNode(BranchNode):
    __slots__ = ()


class WithNode(BranchNode):
    __slots__ = ()


class TemplateNode(Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        from promethean.template.gofmt import go_quote

        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


class BreakNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{continue}}"


class EndNode(Node):
    """Only seen by the parser: closes a control structure."""

    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class ElseNode(Node):
    """Only seen by the parser: switches to a control structure's else branch."""

    __slots__ = ()

    def __str__(self) -> str:
        return "{{else}}"


@dataclass
class Tree:
    """One named template: its body plus where it came from, for error messages.

    ``parse_name`` is the name of the top-level template (usually a file name)
    whose text contained the definition; Go reports positions against it.
    """

    name: str
    parse_name: str
    text: str
    root: ListNode
    _line_starts: list[int] | None = field(default=None, repr=False)

    def location(self, pos: int) -> tuple[int, int]:
        """Line (1-based) and byte column (0-based) of ``pos``, as Go's ErrorContext."""
        before = self.text[:pos]
        line = before.count("\n") + 1
        start = before.rfind("\n") + 1
        return line, len(before[start:].encode("utf-8"))


def is_empty_tree(node: Node) -> bool:
    """True when a body is only whitespace text: such a define never overrides another."""
    if isinstance(node, ListNode):
        return all(is_empty_tree(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return node.text.strip() == ""
    return False
