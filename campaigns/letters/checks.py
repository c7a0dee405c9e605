"""Save-time checks on a letter's parsed tree, and the instrumentation that lets the render budget see all work.

:func:`static_problems` walks Jinja's parsed tree and lists every rule a template breaks (unknown names,
attributes off the allow-list, refused tags such as ``include``, filters and tests not in the sandbox, calls
that aren't macros, lists of non-constant values), each with its line. :func:`instrument` then rewrites the
tree so that every loop step, printed expression and ``~`` concatenation goes through the sandbox's guard
filters.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from jinja2 import meta, nodes

from campaigns.letters.context import ALLOWED, LOOP_ATTRS, VIEWS, TemplateProblem
from campaigns.letters.sandbox import SAFE_FILTERS, SAFE_TESTS

# --------------------------------------------------------------------------- save-time checks

_ALLOWED_LIST = ", ".join([f"{n}.{f.name}" for n, v in VIEWS.items() for f in fields(v)] + ["today"])
_RESERVED = frozenset(ALLOWED) | {"loop", "self", "super", "caller", "varargs", "kwargs"}  # a template may not define

_ALLOWED_NODES = (
    nodes.Output, nodes.TemplateData, nodes.If, nodes.For, nodes.Macro, nodes.CallBlock, nodes.FilterBlock,
    nodes.With, nodes.Assign, nodes.AssignBlock, nodes.Name, nodes.Const, nodes.List, nodes.Tuple, nodes.Dict,
    nodes.Pair, nodes.Keyword, nodes.CondExpr, nodes.Filter, nodes.Test, nodes.Call, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Concat, nodes.Compare, nodes.Operand, nodes.BinExpr, nodes.UnaryExpr,
)  # fmt: skip
_NO_OTHER_TEMPLATES = "Letters can't include, import or extend other templates: put everything in this one."
_REFUSED_NODES: dict[type, str] = {
    nodes.Include: _NO_OTHER_TEMPLATES,
    nodes.Import: _NO_OTHER_TEMPLATES,
    nodes.FromImport: _NO_OTHER_TEMPLATES,
    nodes.Extends: _NO_OTHER_TEMPLATES,
    nodes.Block: "{% block %} is only for template inheritance, which letters don't use.",
    nodes.NSRef: "namespace() isn't available in letters.",
}


def _unknown(name: str) -> str:
    return f"'{name}' is not available in letters. Use one of: {_ALLOWED_LIST}."


def _attribute_problem(node: nodes.Getattr | nodes.Getitem) -> str | None:
    base = node.node
    if isinstance(node, nodes.Getattr):
        attr: Any = node.attr
    elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        attr = node.arg.value
    else:
        if isinstance(base, nodes.Name) and base.name in VIEWS:
            return f"Write {base.name}.<name> with a fixed name, e.g. {base.name}.{fields(VIEWS[base.name])[0].name}."
        return None  # an index or slice, e.g. signer.first_name[0]
    if attr.startswith("_"):
        return f"'{attr}' is not available in letters (names starting with '_' never are)."
    if isinstance(base, nodes.Name) and base.name in ALLOWED:
        allowed = ALLOWED[base.name]
        return None if allowed and attr in allowed else _unknown(f"{base.name}.{attr}")
    if isinstance(base, nodes.Name) and base.name == "loop":
        return None if attr in LOOP_ATTRS else f"'loop.{attr}' is not available in letters."
    return (
        f"'.{attr}' can't be used here: in letters, only signer, target and campaign have parts. "
        "To change text, use a filter, e.g. {{ signer.first_name|upper }}."
    )


def _node_problem(node: nodes.Node, declared: set[str]) -> str | None:
    if type(node) in _REFUSED_NODES:
        return _REFUSED_NODES[type(node)]
    if not isinstance(node, _ALLOWED_NODES):
        return f"This ({type(node).__name__}) is not available in letters."
    if isinstance(node, nodes.For) and node.recursive:
        return "Recursive loops are not available in letters."
    if isinstance(node, nodes.Macro) and (node.name in _RESERVED or node.name.startswith("_")):
        return f"'{node.name}' is a name letters use already; choose another name."
    if isinstance(node, nodes.Name):
        if node.ctx == "load":
            return None if node.name in ALLOWED or node.name in declared else _unknown(node.name)
        if node.name in _RESERVED or node.name.startswith("_"):
            return f"'{node.name}' is a name letters use already; choose another name."
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        return _attribute_problem(node)
    if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
        return f"The filter '{node.name}' is not available in letters. Use one of: {', '.join(sorted(SAFE_FILTERS))}."
    if isinstance(node, nodes.Test) and node.name not in SAFE_TESTS:
        return f"The test '{node.name}' is not available in letters. Use one of: {', '.join(sorted(SAFE_TESTS))}."
    if isinstance(node, nodes.Call):
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            return "Calls with *args or **kwargs are not available in letters."
        target = node.node
        loop_method = isinstance(target, nodes.Getattr) and isinstance(target.node, nodes.Name)
        if loop_method and target.node.name == "loop":  # type: ignore[attr-defined]  # loop_method: a Getattr of a Name
            return None
        if not isinstance(target, nodes.Name) or target.name in ALLOWED:
            return "Only macros can be called in letters; to change text, use a filter such as |upper."
    if isinstance(node, nodes.List | nodes.Tuple | nodes.Dict) and getattr(node, "ctx", "load") == "load":
        items = (
            [p for pair in node.items for p in (pair.key, pair.value)] if isinstance(node, nodes.Dict) else node.items
        )
        if not all(isinstance(item, nodes.Const) for item in items):
            return "Lists in letters may only hold fixed text or numbers, e.g. ['Monday', 'Tuesday']."
    return None


def _declared_names(tree: nodes.Template) -> set[str]:
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names |= {m.name for m in tree.find_all(nodes.Macro)}
    if any(True for _ in tree.find_all(nodes.For)):
        names.add("loop")
    if any(True for _ in tree.find_all(nodes.Macro)):
        names.add("caller")
    return names


def static_problems(tree: nodes.Template) -> list[TemplateProblem]:
    declared = _declared_names(tree)
    problems = []
    for node in tree.find_all(nodes.Node):
        message = _node_problem(node, declared)
        if message:
            problems.append(TemplateProblem(node.lineno, message))
    if problems:
        return problems
    # Jinja's own scope analysis: a name set inside a loop or macro is not visible outside it.
    for name in sorted(meta.find_undeclared_variables(tree) - set(ALLOWED)):
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"), None)
        problems.append(TemplateProblem(line, _unknown(name)))
    return problems


# --------------------------------------------------------------------------- instrumenting the tree


def _filter(node: nodes.Expr, name: str, *args: Any) -> nodes.Filter:
    consts: list[nodes.Expr] = [nodes.Const(a, lineno=node.lineno) for a in args]
    return nodes.Filter(node, name, consts, [], None, None, lineno=node.lineno)


def instrument(node: nodes.Node, repeats: bool) -> nodes.Node:
    """Count loop steps and output, and bound ``~``, so the render budget sees all work."""
    inner = repeats or isinstance(node, nodes.For | nodes.Macro | nodes.CallBlock)
    for name in node.fields:
        value = getattr(node, name)
        if isinstance(value, nodes.Node):
            setattr(node, name, instrument(value, inner))
        elif isinstance(value, list):
            setattr(node, name, [instrument(v, inner) if isinstance(v, nodes.Node) else v for v in value])
    if isinstance(node, nodes.For):
        node.iter = _filter(node.iter, "rally_loop")  # type: ignore[arg-type]  # jinja types For.iter as a Node; it is an Expr
    elif isinstance(node, nodes.Concat):
        return _filter(nodes.List(node.nodes, lineno=node.lineno), "rally_concat")
    elif isinstance(node, nodes.Output):
        literal = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData)) if repeats else 0
        exprs = [i for i, c in enumerate(node.nodes) if not isinstance(c, nodes.TemplateData)]
        if literal and not exprs:
            node.nodes.insert(0, _filter(nodes.Const("", lineno=node.lineno), "rally_output", literal))
        for n, i in enumerate(exprs):
            node.nodes[i] = _filter(node.nodes[i], "rally_output", *([literal] if n == 0 and literal else []))
    return node
