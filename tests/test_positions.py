"""Finding positions: `ModuleInfo.span` finds most nodes by their text instead of generating
the whole module's code; it must give exactly LibCST's PositionProvider positions."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from losslint.project import ModuleInfo, _positions, children, code_of

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for folder in ("fixtures", "demo") for p in (ROOT / folder).rglob("*.py"))


def module_for(text: str) -> ModuleInfo:
    return ModuleInfo(Path("m.py"), "m.py", "m", False, cst.parse_module(text), text)


class _Function:
    def __init__(self, qualname: str) -> None:
        self.qualname = qualname


class _Nodes(cst.CSTVisitor):
    """Every expression with its enclosing function (as the indexer names it), or None."""

    def __init__(self) -> None:
        self.found: list[tuple[cst.CSTNode, _Function | None]] = []
        self.functions: list[_Function | None] = [None]
        self.qual: list[str] = []

    def visit_FunctionDef(self, node) -> None:
        self.functions.append(_Function(".".join([*self.qual, node.name.value])))
        self.qual.extend([node.name.value, "<locals>"])

    def leave_FunctionDef(self, node) -> None:
        self.functions.pop()
        del self.qual[-2:]

    def visit_ClassDef(self, node) -> None:
        self.qual.append(node.name.value)

    def leave_ClassDef(self, node) -> None:
        self.qual.pop()

    def on_visit(self, node) -> bool:
        if isinstance(node, (cst.BaseExpression, cst.FunctionDef, cst.Return, cst.Arg)):
            self.found.append((node, self.functions[-1]))
        return super().on_visit(node)


def check_every_node(text: str) -> int:
    """Compares every expression's span with LibCST's; returns how many were found by text."""
    module = module_for(text)
    expected = _positions(module.tree)
    nodes = _Nodes()
    module.tree.visit(nodes)
    by_text = 0
    fallback_checked = False
    for node, function in nodes.found:
        rng = expected[node]
        want = (rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)
        found = module._find_text(node, function)
        if found is not None:
            by_text += 1
            assert found == want, (cst.Module([]).code_for_node(node), found, want)
        elif fallback_checked or not isinstance(node, cst.BaseExpression):
            continue  # statements and arguments always go to LibCST; one such check a file
        else:
            fallback_checked = True
        fresh = ModuleInfo(module.path, module.display, module.name, False, module.tree, text)
        assert fresh.span(node, function) == want  # by text where it can, else LibCST
        assert (fresh._positions is None) == (found is not None)  # no codegen when found by text
    return by_text


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_text_positions_equal_libcst_positions_on_every_fixture(path):
    text = path.read_text()
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        return  # the syntax-error fixture: nothing to position
    check_every_node(text)


def test_most_nodes_are_found_by_text():
    # Otherwise the shortcut saves nothing: on the fixtures most expressions are unique.
    found = total = 0
    for path in SOURCES[:20]:
        text = path.read_text()
        try:
            found += check_every_node(text)
        except cst.ParserSyntaxError:
            continue
        total += 1
    assert total and found > 0


@pytest.mark.parametrize("text", [
    # The same call in two functions, twice in one function, across lines, in parentheses.
    "import tensorflow as tf\n\ndef a(y_true, y_pred):\n    return tf.reduce_sum(y_pred)\n\n"
    "def b(y_true, y_pred):\n    return tf.reduce_sum(y_pred) + tf.reduce_sum(y_pred)\n",
    "def f(x):\n    return (tf.reduce_mean(\n        x,\n    ))\n",
    "def f(x):\n\treturn  K.sum( x )  # tab\n",
    "x = 'é' ; y = f(x)\ndef g(y_true, y_pred):\n    return K.sum(y_pred) * 'ü'\n",
    "def f(x):\r\n    return K.sum(x)\r\n\r\ndef g(x):\r\n    return K.sum(x)\r\n",
    "def f(x):\r    return K.sum(x)\r",  # lone CR line breaks: LibCST counts them
    "@decorate\nclass C:\n    def call(self, y_true, y_pred):\n        return K.mean(y_pred)\n",
    # Copies in two methods of a class, and in a function nested under an `if`.
    "class A:\n    def call(self, y_true, y_pred):\n        return K.sum(y_pred)\n\n"
    "    def metric(self, y_true, y_pred):\n        return K.sum(y_pred)\n\n"
    "if True:\n    def f(y_true, y_pred):\n        def g():\n            return K.sum(y_pred)\n        return g()\n",
])
def test_text_positions_on_tricky_layouts(text):
    check_every_node(text)


# --- the text of a node, without generating code for plain dotted names --------------------

@pytest.mark.parametrize("expression", [
    "tf", "tf.reduce_mean", "tf.keras.losses.mean_squared_error", "(tf).reduce_mean",
    "(tf.reduce_mean)", "tf . reduce_mean", "tf.\\\n    reduce_mean", "(tf\n  .math\n  .reduce_sum)",
    "K.mean(x).shape", "losses[0].call", "self.loss_fn", "(  x  )",
])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_code_of_is_the_code_libcst_generates(expression, newline):
    text = f"value = {expression}\n".replace("\n", newline)
    tree = cst.parse_module(text)
    value = tree.body[0].body[0].value
    assert code_of(value, tree) == tree.code_for_node(value)
    nodes = [value]
    while nodes:
        node = nodes.pop()
        assert code_of(node, tree) == tree.code_for_node(node)
        nodes += [child for child in children(node) if isinstance(child, cst.BaseExpression)]


def _every_node_of_the_sources():
    """(path, tree, node) for every node of every source LibCST parses, parents first."""
    for path in SOURCES:
        try:
            tree = cst.parse_module(path.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue  # the fixtures of LL901
        nodes = [tree]
        while nodes:
            node = nodes.pop()
            yield path, tree, node
            nodes += list(children(node))


def test_code_of_agrees_on_every_name_and_attribute_of_the_fixtures():
    checked = 0
    for path, tree, node in _every_node_of_the_sources():
        if isinstance(node, (cst.Name, cst.Attribute)):
            assert code_of(node, tree) == tree.code_for_node(node), path
            checked += 1
    assert checked > 5000


def test_children_are_every_node_in_a_code_field_in_order():
    # `children` tells node classes apart by a set of LibCST's classes, not by isinstance.
    import dataclasses

    from losslint.project import _SKIPPED_FIELDS

    def by_isinstance(node):
        for f in dataclasses.fields(node):
            if f.name in _SKIPPED_FIELDS or f.name.startswith("whitespace"):
                continue
            value = getattr(node, f.name)
            for item in value if isinstance(value, (tuple, list)) else [value]:
                if isinstance(item, cst.CSTNode):
                    yield item

    seen = 0
    for _, _, node in _every_node_of_the_sources():
        assert [id(n) for n in children(node)] == [id(n) for n in by_isinstance(node)]
        seen += 1
    assert seen > 20000
