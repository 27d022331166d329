"""``Template``: a set of named, parsed templates plus the functions they may call.

Go's API in Python shape: ``Template(name).funcs({...}).parse(text)``, then
``execute(data)`` or ``execute_template(name, data)``. Parsing more text into
the same set adds or replaces named templates with Go's rule (an empty
definition never replaces a non-empty one), which is how Alertmanager layers
users' template files over its defaults.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Callable, Mapping
from typing import Any

from promethean.template import nodes as n
from promethean.template.errors import TemplateError, TemplateExecError, TemplateParseError
from promethean.template.exec import Executor, FuncSpec, Limits, func_spec
from promethean.template.funcs import BUILTINS
from promethean.template.gofmt import go_quote
from promethean.template.parser import parse as _parse

_BUILTIN_SPECS = {name: func_spec(fn) for name, fn in BUILTINS.items()}
_MISSINGKEY = {"default": "default", "invalid": "default", "zero": "zero", "error": "error"}


class Template:
    """A named template and its associated set (Go's ``*template.Template``)."""

    def __init__(
        self,
        name: str = "",
        funcs: Mapping[str, Callable[..., Any]] | None = None,
        *,
        missingkey: str = "default",
        html: bool = False,
        limits: Limits | None = None,
        delims: tuple[str, str] = ("{{", "}}"),
    ) -> None:
        self.name = name
        self._funcs: dict[str, FuncSpec] = dict(_BUILTIN_SPECS)
        self._trees: dict[str, n.Tree] = {}
        self.html = html
        self.limits = limits or Limits()
        self.delims = delims
        self.missingkey = "default"
        self.option(f"missingkey={missingkey}")
        if funcs:
            self.funcs(funcs)

    # -- configuration ---------------------------------------------------------------------
    def funcs(self, funcs: Mapping[str, Callable[..., Any]]) -> Template:
        """Add functions; they must be added before parsing text that uses them."""
        for name, fn in funcs.items():
            self._funcs[name] = func_spec(fn)
        return self

    def option(self, *opts: str) -> Template:
        """Go's ``Option("missingkey=zero")``."""
        for opt in opts:
            key, _, value = opt.partition("=")
            if key != "missingkey" or value not in _MISSINGKEY:
                raise TemplateError(f"unrecognized option: {opt}")
            self.missingkey = _MISSINGKEY[value]
        return self

    def clone(self) -> Template:
        """A copy whose later parses do not affect this set (trees are shared, immutable)."""
        c = Template.__new__(Template)
        c.__dict__.update(self.__dict__)
        c._funcs = dict(self._funcs)
        c._trees = dict(self._trees)
        return c

    def new(self, name: str) -> Template:
        """A template named ``name`` sharing a copy of this set, as Go's ``t.New(name)``."""
        c = self.clone()
        c.name = name
        return c

    # -- parsing ---------------------------------------------------------------------------
    def parse(self, text: str, name: str | None = None) -> Template:
        """Parse ``text`` as the body of ``name`` (default: this template's name)."""
        tname = self.name if name is None else name
        trees = _parse(
            tname, text, self._funcs, parse_name=tname, left=self.delims[0], right=self.delims[1]
        )
        for tree_name, tree in trees.items():
            old = self._trees.get(tree_name)
            if old is not None and n.is_empty_tree(tree.root):
                continue
            self._trees[tree_name] = tree
        return self

    def parse_files(self, *paths: str) -> Template:
        """Parse each file as a template named by its base name, like Go's ParseFiles."""
        if not paths:
            raise TemplateError("template: no files named in call to ParseFiles")
        for path in paths:
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise TemplateError(f"open {path}: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise TemplateError(f"read {path}: not valid UTF-8") from None
            self.parse(text, os.path.basename(path))
        return self

    def parse_glob(self, pattern: str, *, allow_empty: bool = False) -> Template:
        """Parse the files matching ``pattern`` in sorted order, like Go's ParseGlob."""
        paths = sorted(_glob.glob(pattern))
        if not paths:
            if allow_empty:
                return self
            raise TemplateError(f"template: pattern matches no files: {go_quote(pattern)}")
        return self.parse_files(*paths)

    # -- lookup ----------------------------------------------------------------------------
    def lookup(self, name: str) -> n.Tree | None:
        return self._trees.get(name)

    def defined_templates(self) -> list[str]:
        return sorted(self._trees)

    # -- execution -------------------------------------------------------------------------
    def execute(self, data: Any = None) -> str:
        return self.execute_template(self.name, data)

    def execute_template(self, name: str, data: Any = None) -> str:
        tree = self._trees.get(name)
        if tree is None:
            raise TemplateExecError(
                f"template: no template {go_quote(name)} associated with template "
                f"{go_quote(self.name)}"
            )
        ex = Executor(
            self._trees,
            self._funcs,
            tree,
            missingkey=self.missingkey,
            html=self.html,
            limits=self.limits,
        )
        return ex.run(data)


__all__ = ["Limits", "Template", "TemplateError", "TemplateExecError", "TemplateParseError"]
