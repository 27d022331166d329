"""Execution of parsed templates: a tree walk over Python data with Go's semantics.

Data model mapping (what a Go template author sees):

- ``Mapping`` is a Go map: ``.key`` looks the key up; a missing key gives
  ``<no value>`` (``missingkey=default``), the map's zero value
  (``missingkey=zero``: ``""`` for string maps that declare ``__go_zero__``, nil
  otherwise) or an error (``missingkey=error``).
- Other objects are Go structs: ``.Name`` is a method call when the class
  defines a callable ``Name`` (capitalised, like Go's exported methods),
  otherwise an attribute. Names starting with ``_`` are never reachable.
- ``list``/``tuple`` are slices, ``None`` is nil, ``MISSING`` is Go's invalid
  value (prints ``<no value>``).

Execution is bounded (``Limits``): template call depth, total output size,
the size of any single value a function returns, and the number of steps
(nodes walked plus range iterations), so a hostile template ends in a clean
``TemplateExecError`` instead of hanging or exhausting memory.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promethean.template import nodes as n
from promethean.template.errors import FuncError, TemplateExecError
from promethean.template.escaping import SafeHTML, html_template_escape
from promethean.template.gofmt import MISSING, format_value, go_quote, go_type_name


@dataclass(frozen=True)
class Limits:
    """Resource bounds for one execution."""

    max_depth: int = 100
    max_output: int = 8 * 1024 * 1024
    max_steps: int = 2_000_000


class ArgTypeError(Exception):
    """A function argument of the wrong Go type: ``wrong type for value; ...``."""

    def __init__(self, expected: str, got: Any) -> None:
        if got is None or got is MISSING:
            super().__init__(f"invalid value; expected {expected}")
        else:
            super().__init__(f"wrong type for value; expected {expected}; got {go_type_name(got)}")


@dataclass(frozen=True)
class FuncSpec:
    """A template function with its arity, computed once at registration."""

    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    types: tuple[type | None, ...] = ()  # per parameter; the last repeats when variadic

    def type_at(self, i: int) -> type | None:
        if not self.types:
            return None
        return self.types[i] if i < len(self.types) else self.types[-1]


class StringSlice(list[str]):
    """Annotation marker for a ``[]string`` parameter (checked before the call, as Go does)."""


_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "int",
    float: "float64",
    StringSlice: "[]string",
}


def func_spec(fn: Callable[..., Any]) -> FuncSpec:
    try:
        sig = inspect.signature(fn, eval_str=True)
    except (TypeError, ValueError, NameError):
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return FuncSpec(fn, 0, None)
    lo, hi = 0, 0
    variadic = False
    types: list[type | None] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL,):
            variadic = True
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            hi += 1
            if p.default is p.empty:
                lo += 1
        else:
            continue
        ann = p.annotation
        types.append(ann if ann in _TYPE_NAMES else None)
    if not any(t is not None for t in types):
        types = []
    return FuncSpec(fn, lo, None if variadic else hi, tuple(types))


class _NoFinal:
    """Go's ``missingVal``: no value piped into a command."""

    __slots__ = ()


_NOFINAL = _NoFinal()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_BUILTIN_SCALARS = (str, int, float, bool, list, tuple, bytes, bytearray, set, frozenset)
_method_cache: dict[tuple[type, str], FuncSpec | None] = {}


def _find_method(receiver: Any, name: str) -> FuncSpec | None:
    """A Go-exported (capitalised) method of the receiver's class, if any."""
    if not name[:1].isupper():
        return None
    key = (type(receiver), name)
    try:
        spec = _method_cache[key]
    except KeyError:
        attr = getattr(type(receiver), name, None)
        spec = None
        if attr is not None and inspect.isfunction(attr):
            s = func_spec(attr)
            spec = FuncSpec(
                attr,
                max(s.min_args - 1, 0),
                None if s.max_args is None else s.max_args - 1,
                s.types[1:],
            )
        if len(_method_cache) < 4096:
            _method_cache[key] = spec
    if spec is None:
        return None
    return FuncSpec(getattr(receiver, name), spec.min_args, spec.max_args, spec.types)


def is_true(v: Any) -> bool:
    """Go template truth: zero values and empty containers are false."""
    if v is None or v is MISSING:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str | list | tuple | Mapping | bytes):
        return len(v) > 0
    return True


class Executor:
    """State of one execution (Go's ``state``); not reusable across executions."""

    def __init__(
        self,
        trees: Mapping[str, n.Tree],
        funcs: Mapping[str, FuncSpec],
        tree: n.Tree,
        *,
        missingkey: str,
        html: bool,
        limits: Limits,
    ) -> None:
        self.trees = trees
        self.funcs = funcs
        self.tree = tree
        self.missingkey = missingkey
        self.html = html
        self.limits = limits
        self.out: list[str] = []
        self.size = 0
        self.steps = 0
        self.depth = 0
        self.vars: list[list[Any]] = []
        self.node: n.Node | None = None
        self._walkers: dict[type, Callable[[Any, Any], None]] = {
            n.TextNode: self._walk_text,
            n.ActionNode: self._walk_action,
            n.ListNode: self._walk_list,
            n.IfNode: self._walk_if_or_with,
            n.WithNode: self._walk_if_or_with,
            n.RangeNode: self._walk_range,
            n.TemplateNode: self._walk_template,
            n.BreakNode: self._walk_break,
            n.ContinueNode: self._walk_continue,
        }

    # -- errors ----------------------------------------------------------------------------
    def errorf(self, msg: str) -> TemplateExecError:
        name = go_quote(self.tree.name)
        node = self.node
        if node is None:
            return TemplateExecError(f"template: {self.tree.name}: {msg}")
        line, col = self.tree.location(node.pos)
        loc = f"{self.tree.parse_name}:{line}:{col}"
        return TemplateExecError(f"template: {loc}: executing {name} at <{node}>: {msg}")

    # -- entry point -----------------------------------------------------------------------
    def run(self, data: Any) -> str:
        self.vars = [["$", data]]
        try:
            self.walk(data, self.tree.root)
        except RecursionError:
            raise self.errorf(
                f"exceeded maximum template depth ({self.limits.max_depth})"
            ) from None
        return "".join(self.out)

    # -- output ----------------------------------------------------------------------------
    def write(self, s: str) -> None:
        self.size += len(s)
        if self.size > self.limits.max_output:
            raise self.errorf(f"output exceeds the limit of {self.limits.max_output} bytes")
        self.out.append(s)

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise self.errorf(f"execution exceeds the limit of {self.limits.max_steps} steps")

    # -- variables -------------------------------------------------------------------------
    def _var_value(self, name: str) -> Any:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        raise self.errorf(f"undefined variable: {name}")

    def _set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i][1] = value
                return
        raise self.errorf(f"undefined variable: {name}")

    # -- walking ---------------------------------------------------------------------------
    def walk(self, dot: Any, node: n.Node) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            self.node = node
            self._step()
        self._walkers[type(node)](dot, node)

    def _walk_text(self, dot: Any, node: n.TextNode) -> None:
        self.write(node.text)

    def _walk_list(self, dot: Any, node: n.ListNode) -> None:
        walk = self.walk
        for child in node.nodes:
            walk(dot, child)

    def _walk_action(self, dot: Any, node: n.ActionNode) -> None:
        self.node = node
        val = self._eval_pipeline(dot, node.pipe)
        if not node.pipe.decl:
            self._print(node, val)

    def _walk_break(self, dot: Any, node: n.Node) -> None:
        raise _Break

    def _walk_continue(self, dot: Any, node: n.Node) -> None:
        raise _Continue

    def _print(self, node: n.Node, val: Any) -> None:
        self.node = node
        if callable(val) and not isinstance(val, str) and getattr(val, "String", None) is None:
            raise self.errorf(f"can't print {node} of type {go_type_name(val)}")
        s = format_value(val)
        if self.html and not isinstance(val, SafeHTML):
            s = html_template_escape(s)
        self.write(s)

    def _walk_if_or_with(self, dot: Any, node: n.BranchNode) -> None:
        mark = len(self.vars)
        val = self._eval_pipeline(dot, node.pipe)
        if is_true(val):
            self.walk(val if isinstance(node, n.WithNode) else dot, node.list)
        elif node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[mark:]

    def _iterate(self, node: n.RangeNode, val: Any) -> Any:
        if val is None or val is MISSING:
            return ()
        if isinstance(val, bool):
            raise self.errorf(f"range can't iterate over {format_value(val)}")
        if isinstance(val, int):
            if len(node.pipe.decl) > 1:
                raise self.errorf(f"can't use {val} to iterate over more than one variable")
            return ((i, i) for i in range(val))
        if isinstance(val, Mapping):
            try:
                keys = sorted(val.keys())
            except TypeError:
                keys = list(val.keys())
            return ((k, val[k]) for k in keys)
        if isinstance(val, list | tuple):
            return enumerate(val)
        raise self.errorf(f"range can't iterate over {format_value(val)}")

    def _walk_range(self, dot: Any, node: n.RangeNode) -> None:
        self.node = node
        mark = len(self.vars)
        val = self._eval_pipeline(dot, node.pipe)
        decl = node.pipe.decl
        assign = node.pipe.is_assign
        ran = False
        for index, elem in self._iterate(node, val):
            ran = True
            self._step()
            if decl:
                if assign:
                    self._set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                else:
                    self.vars[-1][1] = elem
            if len(decl) > 1:
                if assign:
                    self._set_var(decl[1].ident[0], elem)
                else:
                    self.vars[-2][1] = index
            inner = len(self.vars)
            try:
                self.walk(elem, node.list)
            except _Continue:
                pass
            except _Break:
                del self.vars[inner:]
                break
            del self.vars[inner:]
        if not ran and node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[mark:]

    def _walk_template(self, dot: Any, node: n.TemplateNode) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.errorf(f"template {go_quote(node.name)} not defined")
        if self.depth >= self.limits.max_depth:
            raise self.errorf(f"exceeded maximum template depth ({self.limits.max_depth})")
        new_dot = self._eval_pipeline(dot, node.pipe)
        saved = (self.tree, self.vars)
        self.tree, self.vars = tree, [["$", new_dot]]
        self.depth += 1
        try:
            self.walk(new_dot, tree.root)
        finally:
            self.depth -= 1
            self.tree, self.vars = saved

    # -- evaluation ------------------------------------------------------------------------
    def _eval_pipeline(self, dot: Any, pipe: n.PipeNode | None) -> Any:
        if pipe is None:
            return MISSING
        self.node = pipe
        value: Any = _NOFINAL
        for cmd in pipe.cmds:
            value = self._eval_command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self._set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def _not_a_function(self, args: list[n.Node], final: Any) -> None:
        if len(args) > 1 or final is not _NOFINAL:
            raise self.errorf(f"can't give argument to non-function {args[0]}")

    def _eval_command(self, dot: Any, cmd: n.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, n.FieldNode):
            self.node = first
            return self._eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, n.IdentifierNode):
            return self._eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, n.VariableNode):
            return self._eval_variable(dot, first, cmd.args, final)
        if isinstance(first, n.ChainNode):
            return self._eval_chain(dot, first, cmd.args, final)
        if isinstance(first, n.PipeNode):
            self.node = first
            self._not_a_function(cmd.args, final)
            return self._eval_pipeline(dot, first)
        self.node = first
        self._not_a_function(cmd.args, final)
        if isinstance(first, n.BoolNode):
            return first.value
        if isinstance(first, n.DotNode):
            return dot
        if isinstance(first, n.NilNode):
            raise self.errorf("nil is not a command")
        if isinstance(first, n.NumberNode):
            return first.value
        if isinstance(first, n.StringNode):
            return first.text
        raise self.errorf(f"can't evaluate command {go_quote(str(first))}")

    def _eval_arg(self, dot: Any, node: n.Node) -> Any:
        self.node = node
        if isinstance(node, n.DotNode):
            return dot
        if isinstance(node, n.NilNode):
            return None
        if isinstance(node, n.FieldNode):
            return self._eval_field_chain(dot, dot, node, node.ident, [node], _NOFINAL)
        if isinstance(node, n.VariableNode):
            return self._eval_variable(dot, node, [node], _NOFINAL)
        if isinstance(node, n.PipeNode):
            return self._eval_pipeline(dot, node)
        if isinstance(node, n.IdentifierNode):
            return self._eval_function(dot, node, node, [node], _NOFINAL)
        if isinstance(node, n.ChainNode):
            return self._eval_chain(dot, node, [node], _NOFINAL)
        if isinstance(node, n.BoolNode):
            return node.value
        if isinstance(node, n.NumberNode):
            return node.value
        if isinstance(node, n.StringNode):
            return node.text
        raise self.errorf(f"can't handle {node} for arg")

    def _eval_typed_arg(self, dot: Any, node: n.Node, typ: type | None) -> Any:
        if typ is None:
            return self._eval_arg(dot, node)
        self.node = node
        if typ is str and isinstance(node, n.NumberNode | n.BoolNode):
            raise self.errorf(f"expected string; found {node}")
        if isinstance(node, n.NilNode):
            raise self.errorf(f"cannot assign nil to {_TYPE_NAMES[typ]}")
        value = self._eval_arg(dot, node)
        self._check_type(value, typ)
        return value

    def _check_type(self, value: Any, typ: type | None) -> None:
        if typ is StringSlice:
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return
            raise self.errorf(str(ArgTypeError("[]string", value)))
        if typ is None or (isinstance(value, typ) and not (typ is int and isinstance(value, bool))):
            return
        raise self.errorf(str(ArgTypeError(_TYPE_NAMES[typ], value)))

    def _eval_variable(self, dot: Any, node: n.VariableNode, args: list[n.Node], final: Any) -> Any:
        self.node = node
        value = self._var_value(node.ident[0])
        if len(node.ident) == 1:
            self._not_a_function(args, final)
            return value
        return self._eval_field_chain(dot, value, node, node.ident[1:], args, final)

    def _eval_chain(self, dot: Any, node: n.ChainNode, args: list[n.Node], final: Any) -> Any:
        self.node = node
        if isinstance(node.node, n.NilNode):
            raise self.errorf(f"indirection through explicit nil in {node}")
        receiver = self._eval_arg(dot, node.node)
        return self._eval_field_chain(dot, receiver, node, node.fields, args, final)

    def _eval_field_chain(
        self,
        dot: Any,
        receiver: Any,
        node: n.Node,
        ident: tuple[str, ...],
        args: list[n.Node],
        final: Any,
    ) -> Any:
        last = len(ident) - 1
        for i in range(last):
            receiver = self._eval_field(dot, ident[i], node, None, _NOFINAL, receiver)
        return self._eval_field(dot, ident[last], node, args, final, receiver)

    def _eval_field(
        self,
        dot: Any,
        name: str,
        node: n.Node,
        args: list[n.Node] | None,
        final: Any,
        receiver: Any,
    ) -> Any:
        if receiver is MISSING:
            if self.missingkey == "error":
                raise self.errorf(f"nil data; no entry for key {go_quote(name)}")
            return MISSING
        if receiver is None:
            raise self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        spec = _find_method(receiver, name)
        if spec is not None:
            return self._call(dot, spec, node, name, args or [node], final)
        has_args = (args is not None and len(args) > 1) or final is not _NOFINAL
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.errorf(f"{name} is not a method but has arguments")
            try:
                return receiver[name]
            except KeyError:
                pass
            except TypeError:
                raise self.errorf(
                    f"can't evaluate field {name} in type {go_type_name(receiver)}"
                ) from None
            if self.missingkey == "zero":
                return getattr(type(receiver), "__go_zero__", None)
            if self.missingkey == "error":
                raise self.errorf(f"map has no entry for key {go_quote(name)}")
            return MISSING
        if not name.startswith("_") and not isinstance(receiver, _BUILTIN_SCALARS):
            try:
                value = getattr(receiver, name)
            except AttributeError:
                pass
            else:
                if has_args:
                    raise self.errorf(f"{name} has arguments but cannot be invoked as function")
                return value
        raise self.errorf(f"can't evaluate field {name} in type {go_type_name(receiver)}")

    def _eval_function(
        self, dot: Any, ident: n.IdentifierNode, cmd: n.Node, args: list[n.Node], final: Any
    ) -> Any:
        self.node = ident
        name = ident.name
        spec = self.funcs.get(name)
        if spec is None:
            raise self.errorf(f"{go_quote(name)} is not a defined function")
        if name in ("and", "or") and spec.fn is _LAZY.get(name):
            return self._eval_and_or(dot, name, cmd, args, final)
        return self._call(dot, spec, cmd, name, args, final)

    def _eval_and_or(self, dot: Any, name: str, cmd: n.Node, args: list[n.Node], final: Any) -> Any:
        nodes = args[1:]
        count = len(nodes) + (0 if final is _NOFINAL else 1)
        if count < 1:
            self.node = cmd
            raise self.errorf(f"wrong number of args for {name}: want at least 1 got 0")
        want = name == "or"
        value: Any = MISSING
        for a in nodes:
            value = self._eval_arg(dot, a)
            if is_true(value) == want:
                return value
        if final is not _NOFINAL:
            value = final
        return value

    def _call(
        self, dot: Any, spec: FuncSpec, node: n.Node, name: str, args: list[n.Node], final: Any
    ) -> Any:
        arg_nodes = args[1:]
        count = len(arg_nodes) + (0 if final is _NOFINAL else 1)
        if spec.max_args is None:
            if count < spec.min_args:
                raise self.errorf(
                    f"wrong number of args for {name}: want at least {spec.min_args} "
                    f"got {len(arg_nodes)}"
                )
        elif count < spec.min_args or count > spec.max_args:
            raise self.errorf(f"wrong number of args for {name}: want {spec.max_args} got {count}")
        if spec.types:
            values = [
                self._eval_typed_arg(dot, a, spec.type_at(i)) for i, a in enumerate(arg_nodes)
            ]
            if final is not _NOFINAL:
                self._check_type(final, spec.type_at(len(arg_nodes)))
                values.append(final)
        else:
            values = [self._eval_arg(dot, a) for a in arg_nodes]
            if final is not _NOFINAL:
                values.append(final)
        self.node = node
        try:
            result = spec.fn(*values)
        except TemplateExecError:
            raise
        except ArgTypeError as exc:
            raise self.errorf(str(exc)) from None
        except FuncError as exc:
            raise self.errorf(f"error calling {name}: {exc}") from None
        except RecursionError:
            raise
        except Exception as exc:  # a function's own failure is the template's error
            raise self.errorf(f"error calling {name}: {exc}") from None
        if isinstance(result, str) and len(result) > self.limits.max_output:
            raise self.errorf(f"error calling {name}: result exceeds the output limit")
        return result


_LAZY: dict[str, Callable[..., Any]] = {}
