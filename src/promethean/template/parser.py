"""Parser for Go text/template: tokens to trees, with Go's error messages.

Follows ``text/template/parse`` rule for rule: the same contexts in
``unexpected X in Y`` messages, function names checked at parse time, variables
checked for scope, ``{{define}}``/``{{block}}`` producing extra named trees.
"""

from __future__ import annotations

from collections.abc import Container

from promethean.template import nodes as n
from promethean.template.errors import TemplateParseError
from promethean.template.gofmt import go_quote
from promethean.template.lexer import Item, T, lex
from promethean.template.unquote import parse_number, unquote_char, unquote_string

_OPERAND_START = frozenset(
    {
        T.BOOL,
        T.CHAR_CONSTANT,
        T.DOT,
        T.FIELD,
        T.IDENTIFIER,
        T.NUMBER,
        T.NIL,
        T.RAW_STRING,
        T.STRING,
        T.VARIABLE,
        T.LEFT_PAREN,
    }
)


class _Parser:
    def __init__(
        self, name: str, parse_name: str, text: str, items: list[Item], funcs: Container[str]
    ) -> None:
        self.name = name
        self.parse_name = parse_name
        self.text = text
        self.items = items
        self.i = 0
        self.funcs = funcs
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.last: Item = items[0]
        self.trees: dict[str, n.Tree] = {}

    # -- token access ----------------------------------------------------------------------
    def next(self) -> Item:
        it = self.items[self.i] if self.i < len(self.items) else self.items[-1]
        self.i += 1
        self.last = it
        return it

    def backup(self, count: int = 1) -> None:
        self.i -= count

    def peek(self) -> Item:
        return self.items[self.i] if self.i < len(self.items) else self.items[-1]

    def next_non_space(self) -> Item:
        while True:
            it = self.next()
            if it.typ != T.SPACE:
                return it

    def peek_non_space(self) -> Item:
        it = self.next_non_space()
        self.backup()
        return it

    # -- errors ----------------------------------------------------------------------------
    def errorf(self, msg: str) -> TemplateParseError:
        return TemplateParseError(f"template: {self.parse_name}:{self.last.line}: {msg}")

    def unexpected(self, it: Item, context: str) -> TemplateParseError:
        if it.typ == T.ERROR:
            extra = ""
            if self.action_line and self.action_line != it.line:
                extra = f" in action started at {self.parse_name}:{self.action_line}"
                if it.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.errorf(f"{it}{extra}")
        return self.errorf(f"unexpected {it} in {context}")

    def expect(self, typ: T, context: str) -> Item:
        it = self.next_non_space()
        if it.typ != typ:
            raise self.unexpected(it, context)
        return it

    # -- top level -------------------------------------------------------------------------
    def parse(self) -> dict[str, n.Tree]:
        root = n.ListNode(self.peek().pos)
        while self.peek().typ != T.EOF:
            if self.peek().typ == T.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == T.DEFINE:
                    self.action_line = delim.line
                    self.parse_definition()
                    self.action_line = 0
                    continue
                self.i = self._rewind_to(delim)
            node = self.text_or_action()
            if isinstance(node, n.EndNode | n.ElseNode):
                raise self.errorf(f"unexpected {node}")
            root.nodes.append(node)
        self.add(n.Tree(self.name, self.parse_name, self.text, root))
        return self.trees

    def _rewind_to(self, it: Item) -> int:
        j = self.i - 1
        while self.items[j] is not it:
            j -= 1
        return j

    def add(self, tree: n.Tree) -> None:
        existing = self.trees.get(tree.name)
        if existing is None or n.is_empty_tree(existing.root):
            self.trees[tree.name] = tree
            return
        if not n.is_empty_tree(tree.root):
            raise self.errorf(f"template: multiple definition of template {go_quote(tree.name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        name_tok = self.next_non_space()
        if name_tok.typ not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(name_tok, context)
        name = self._unquote(name_tok)
        self.expect(T.RIGHT_DELIM, context)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, n.EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(n.Tree(name, self.parse_name, self.text, body))

    def item_list(self) -> tuple[n.ListNode, n.Node]:
        lst = n.ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != T.EOF:
            node = self.text_or_action()
            if isinstance(node, n.EndNode | n.ElseNode):
                return lst, node
            lst.nodes.append(node)
        raise self.errorf("unexpected EOF")

    def text_or_action(self) -> n.Node:
        it = self.next_non_space()
        if it.typ == T.TEXT:
            return n.TextNode(it.pos, it.val)
        if it.typ == T.LEFT_DELIM:
            saved = self.action_line
            self.action_line = it.line
            try:
                return self.action()
            finally:
                self.action_line = saved
        raise self.unexpected(it, "input")

    def action(self) -> n.Node:
        it = self.next_non_space()
        typ = it.typ
        if typ == T.BLOCK:
            return self.block_control()
        if typ == T.BREAK:
            return self.break_control(it, "break")
        if typ == T.CONTINUE:
            return self.break_control(it, "continue")
        if typ == T.ELSE:
            return self.else_control()
        if typ == T.END:
            return n.EndNode(self.expect(T.RIGHT_DELIM, "end").pos)
        if typ == T.IF:
            return self.if_control()
        if typ == T.RANGE:
            return self.range_control()
        if typ == T.TEMPLATE:
            return self.template_control()
        if typ == T.WITH:
            return self.with_control()
        self.backup()
        start = self.peek()
        return n.ActionNode(start.pos, self.pipeline("command", T.RIGHT_DELIM))

    def break_control(self, it: Item, word: str) -> n.Node:
        tok = self.next_non_space()
        if tok.typ != T.RIGHT_DELIM:
            raise self.unexpected(tok, "{{" + word + "}}")
        if self.range_depth == 0:
            raise self.errorf("{{" + word + "}} outside {{range}}")
        return n.BreakNode(it.pos) if word == "break" else n.ContinueNode(it.pos)

    def else_control(self) -> n.Node:
        peek = self.peek_non_space()
        if peek.typ in (T.IF, T.WITH):
            return n.ElseNode(peek.pos)
        tok = self.expect(T.RIGHT_DELIM, "else")
        return n.ElseNode(tok.pos)

    def parse_control(
        self, context: str, else_kw: T | None
    ) -> tuple[int, n.PipeNode, n.ListNode, n.ListNode | None]:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, T.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: n.ListNode | None = None
            if isinstance(nxt, n.ElseNode):
                if else_kw is not None and self.peek().typ == else_kw:
                    self.next()
                    else_list = n.ListNode(nxt.pos)
                    else_list.nodes.append(
                        self.if_control() if else_kw == T.IF else self.with_control()
                    )
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, n.EndNode):
                        raise self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe, body, else_list
        finally:
            del self.vars[mark:]

    def if_control(self) -> n.Node:
        pos, pipe, body, el = self.parse_control("if", T.IF)
        return n.IfNode(pos, "if", pipe, body, el)

    def range_control(self) -> n.Node:
        pos, pipe, body, el = self.parse_control("range", None)
        return n.RangeNode(pos, "range", pipe, body, el)

    def with_control(self) -> n.Node:
        pos, pipe, body, el = self.parse_control("with", T.WITH)
        return n.WithNode(pos, "with", pipe, body, el)

    def _unquote(self, it: Item) -> str:
        try:
            return unquote_string(it.val)
        except ValueError as exc:
            raise self.errorf(str(exc)) from None

    def template_control(self) -> n.Node:
        context = "template clause"
        tok = self.next_non_space()
        if tok.typ not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(tok, context)
        name = self._unquote(tok)
        pipe: n.PipeNode | None = None
        if self.next_non_space().typ != T.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, T.RIGHT_DELIM)
        return n.TemplateNode(tok.pos, name, pipe)

    def block_control(self) -> n.Node:
        context = "block clause"
        tok = self.next_non_space()
        if tok.typ not in (T.STRING, T.RAW_STRING):
            raise self.unexpected(tok, context)
        name = self._unquote(tok)
        pipe: n.PipeNode | None = None
        if self.next_non_space().typ != T.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, T.RIGHT_DELIM)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved_vars, saved_depth
        if not isinstance(end, n.EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(n.Tree(name, self.parse_name, self.text, body))
        return n.TemplateNode(tok.pos, name, pipe)

    # -- pipelines -------------------------------------------------------------------------
    def pipeline(self, context: str, end: T) -> n.PipeNode:
        tok = self.peek_non_space()
        pipe = n.PipeNode(tok.pos, [], False)
        while True:
            v = self.peek_non_space()
            if v.typ != T.VARIABLE:
                break
            self.next_non_space()
            after_var = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (T.ASSIGN, T.DECLARE):
                pipe.is_assign = nxt.typ == T.ASSIGN
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, (v.val,)))
                self.vars.append(v.val)
                break
            if nxt.typ == T.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, (v.val,)))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (T.VARIABLE, T.RIGHT_DELIM, T.RIGHT_PAREN):
                        continue
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            if after_var.typ == T.SPACE:
                self.backup(2)
            else:
                self.backup()
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in _OPERAND_START:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def check_pipeline(self, pipe: n.PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], n.BoolNode | n.DotNode | n.NilNode | n.NumberNode):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")
            if isinstance(c.args[0], n.StringNode):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> n.CommandNode:
        cmd = n.CommandNode(self.peek_non_space().pos, [])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == T.SPACE:
                continue
            if tok.typ in (T.RIGHT_DELIM, T.RIGHT_PAREN):
                self.backup()
            elif tok.typ == T.PIPE:
                pass
            else:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> n.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == T.FIELD:
            pos = self.peek().pos  # Go positions a chain at its first field
            fields: list[str] = []
            while self.peek().typ == T.FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, n.FieldNode):
                return n.FieldNode(pos, node.ident + tuple(fields))
            if isinstance(node, n.VariableNode):
                return n.VariableNode(pos, node.ident + tuple(fields))
            if isinstance(node, n.BoolNode | n.StringNode | n.NumberNode | n.NilNode | n.DotNode):
                raise self.errorf(f"unexpected . after term {go_quote(str(node))}")
            return n.ChainNode(pos, node, tuple(fields))
        return node

    def term(self) -> n.Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ == T.IDENTIFIER:
            if tok.val not in self.funcs:
                raise self.errorf(f"function {go_quote(tok.val)} not defined")
            return n.IdentifierNode(tok.pos, tok.val)
        if typ == T.DOT:
            return n.DotNode(tok.pos)
        if typ == T.NIL:
            return n.NilNode(tok.pos)
        if typ == T.VARIABLE:
            name = tok.val.split(".")[0]
            if name not in self.vars:
                raise self.errorf(f"undefined variable {go_quote(name)}")
            return n.VariableNode(tok.pos, tuple(tok.val.split(".")))
        if typ == T.FIELD:
            return n.FieldNode(tok.pos, (tok.val[1:],))
        if typ == T.BOOL:
            return n.BoolNode(tok.pos, tok.val == "true")
        if typ == T.CHAR_CONSTANT:
            try:
                ch = unquote_char(tok.val)
            except ValueError as exc:
                raise self.errorf(str(exc)) from None
            return n.NumberNode(tok.pos, tok.val, ord(ch), True, False)
        if typ == T.NUMBER:
            try:
                value, is_int, is_float = parse_number(tok.val)
            except ValueError as exc:
                raise self.errorf(str(exc)) from None
            return n.NumberNode(tok.pos, tok.val, value, is_int, is_float)
        if typ == T.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", T.RIGHT_PAREN)
        if typ in (T.STRING, T.RAW_STRING):
            return n.StringNode(tok.pos, tok.val, self._unquote(tok))
        self.backup()
        return None


def parse(
    name: str,
    text: str,
    funcs: Container[str],
    *,
    parse_name: str | None = None,
    left: str = "{{",
    right: str = "}}",
) -> dict[str, n.Tree]:
    """Parse ``text`` as template ``name``; returns it and every template it defines."""
    items = lex(name, text, left or "{{", right or "}}")
    parser = _Parser(name, parse_name or name, text, items, funcs)
    try:
        return parser.parse()
    except RecursionError:
        raise parser.errorf("max expression depth exceeded") from None
