"""What a hospital's own wording may contain: words, the values, conditions, and our macros.

A wording is written by a hospital's administrator and rendered by every sender, so it must
not be able to stall or exhaust one. The sandbox keeps it from Python's internals but not from
``{{ 'x' * 10**9 }}``, ``'x'.ljust(10**9)``, nested loops or a recursive macro; so a wording is
refused unless every node of its syntax tree is on the list below, every filter is a cheap one,
and every call is to one of our macros (``_values.j2``: ``val``, ``flag``, ``pick``). Its
rendering is then linear in its length. Pure.
"""

from __future__ import annotations

import jinja2
from jinja2 import nodes

from notifier.errors import InvalidInput
from notifier.vitals import FIELDS

ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.CondExpr, nodes.Name,
    nodes.Const, nodes.Getattr, nodes.Getitem, nodes.Concat, nodes.Compare, nodes.Operand,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub, nodes.Div,
    nodes.FloorDiv, nodes.Filter, nodes.Test, nodes.Assign, nodes.Tuple, nodes.List, nodes.Dict,
    nodes.Pair, nodes.FromImport, nodes.Call, nodes.Keyword, nodes.Slice,
)  # fmt: skip
CHEAP_FILTERS = frozenset({"default", "d", "upper", "lower", "capitalize", "title", "trim",
                           "round", "int", "float", "string", "length", "first", "last"})  # fmt: skip
MACROS = frozenset({"val", "flag", "pick"})
# ``v.pulse.text``, ``v["pulse"]``: a field and its state, value or text, nothing of Python's.
ITEMS = frozenset({*FIELDS, "state", "value", "text"})
IMPORTABLE = "_values.j2"


def check_wording(env: jinja2.Environment, source: str) -> None:
    """Raise ``InvalidInput`` naming the first construct a wording may not use."""
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidInput(f"line {exc.lineno}: {exc.message}") from exc
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            raise InvalidInput(
                f"a wording may not use {type(node).__name__!r}: only text, the values, "
                "conditions and the macros val, flag and pick"
            )
        if isinstance(node, nodes.Getattr) and node.attr not in ITEMS:
            raise InvalidInput(f"a wording may not read {node.attr!r}")
        if isinstance(node, nodes.Getitem) and not (
            isinstance(node.arg, nodes.Slice)
            or (isinstance(node.arg, nodes.Const) and node.arg.value in ITEMS | {0, 1})
        ):
            raise InvalidInput("a wording may index only by a field's name")
        if isinstance(node, nodes.Assign) and _names(node.target) & MACROS:
            raise InvalidInput("a wording may not redefine val, flag or pick")
        if isinstance(node, nodes.Filter) and node.name not in CHEAP_FILTERS:
            raise InvalidInput(f"a wording may not use the filter {node.name!r}")
        if isinstance(node, nodes.Call) and not (
            isinstance(node.node, nodes.Name) and node.node.name in MACROS
        ):
            raise InvalidInput(f"a wording may call only {', '.join(sorted(MACROS))}")
        if isinstance(node, nodes.FromImport) and not (
            isinstance(node.template, nodes.Const) and node.template.value == IMPORTABLE
        ):
            raise InvalidInput(f"a wording may import only from {IMPORTABLE!r}")


def _names(target: nodes.Node) -> set[str]:
    found = [target, *target.find_all(nodes.Name)]
    return {n.name for n in found if isinstance(n, nodes.Name)}
