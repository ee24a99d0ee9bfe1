"""Source slices: the least code that defines a loss, without running any module's top level.

Training scripts train when imported, so the probe never imports a user module. For one loss
it builds, per module involved, a *slice*: the module's top-level statements that the loss
needs, found by following names from the loss outwards, in their original order:

  kept     `def`, `class`, imports (only the names needed), `try:` blocks made of imports
           only, and simple assignments of constants or of calls to known-safe constructors
           (`tf.constant(...)`, `keras.losses.BinaryCrossentropy()`, `np.array(...)`);
  skipped  everything else: `if __name__ == "__main__":` blocks, loops, `with` blocks,
           expression statements (`model.fit(...)`), assignments of any other call.

An import of another scanned module is sliced the same way; the probe's worker installs the
slices in `sys.modules` under the imported names, so the real files are never imported.
The last line of the main slice builds the callable Keras would receive
(`__losslint_loss__ = focal_loss(gamma=2.0)`), with the literal arguments seen where the
loss was compiled, else the defaults.

Everything here is static: no TensorFlow, no user code is run.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field

import libcst as cst

from losslint import catalogue
from losslint.finder import LossTarget, _returns
from losslint.project import (
    ClassInfo,
    External,
    FunctionInfo,
    import_from_base,
    ModuleInfo,
    Project,
)

LOSS_NAME = "__losslint_loss__"

# Calls a module-level assignment may make and still be kept: constructors of constants and
# of Keras loss/metric objects, and pure functions of the standard library.
_SAFE_CALLS = frozenset({
    "tensorflow.constant", "tensorflow.convert_to_tensor", "tensorflow.cast", "tensorflow.ones",
    "tensorflow.zeros", "tensorflow.range", "tensorflow.linspace", "tensorflow.eye",
    "tensorflow.TensorSpec", "tensorflow.as_dtype", "tensorflow.Variable",
    "numpy.array", "numpy.asarray", "numpy.ones", "numpy.zeros", "numpy.arange", "numpy.linspace",
    "numpy.eye", "numpy.float32", "numpy.float64", "numpy.int32", "numpy.int64", "numpy.log",
    "numpy.sqrt", "numpy.exp",
    "keras.backend.epsilon", "keras.backend.constant", "keras.backend.floatx",
    "keras.ops.convert_to_tensor", "keras.ops.array", "keras.config.epsilon",
    "float", "int", "str", "bool", "tuple", "list", "dict", "set", "frozenset", "range", "len",
    "abs", "min", "max", "sum", "round",
})
_SAFE_CALL_PREFIXES = ("math.",)


@dataclass
class SlicedModule:
    """One module's slice, installed by the worker as `sys.modules[name]`."""

    name: str
    package: str
    is_package: bool
    display: str
    source: str


@dataclass
class ProbeJob:
    """Everything the worker needs to probe one loss; `error` means it cannot be built."""

    qualname: str
    display: str  # where the loss is defined
    modules: list[SlicedModule] = field(default_factory=list)  # dependencies first, main last
    legacy_keras: bool = False
    # Names the slices do not define because their statement is not run: name -> why.
    skipped: dict[str, str] = field(default_factory=dict)
    error: str | None = None


# --------------------------------------------------------------------------------------------
# Names


def _ast_of(code: str) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return None


def referenced_names(code: str) -> set[str]:
    """Every name a piece of code reads (over-approximated: locals included)."""
    tree = _ast_of(code)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
    return names


def _bound_names(statement: cst.CSTNode) -> set[str]:
    """Names a top-level statement binds at module scope."""
    names: set[str] = set()
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return {statement.name.value}
    for node in _walk(statement):
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            names.add(node.name.value)
        elif isinstance(node, cst.Import):
            for alias in node.names:
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    names.add(alias.asname.name.value)
                else:
                    names.add(cst.Module([]).code_for_node(alias.name).split(".")[0])
        elif isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    names.add(alias.asname.name.value)
                elif isinstance(alias.name, cst.Name):
                    names.add(alias.name.value)
        elif isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr)):
            target = node.target
            for sub in _walk(target):
                if isinstance(sub, cst.Name):
                    names.add(sub.value)
        elif isinstance(node, cst.AsName) and isinstance(node.name, cst.Name):
            names.add(node.name.value)
    return names


def _walk(node: cst.CSTNode):
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        todo.extend(current.children)


# --------------------------------------------------------------------------------------------
# Which statements are safe to run


def _is_main_guard(statement: cst.CSTNode) -> bool:
    if not isinstance(statement, cst.If):
        return False
    return "__name__" in cst.Module([]).code_for_node(statement.test)


class _Statement:
    """One top-level statement with what it binds and whether the probe may run it."""

    def __init__(self, slicer: "_ModuleSlicer", node: cst.CSTNode) -> None:
        self.node = node
        self.code = slicer.module.tree.code_for_node(node)
        self.line = slicer.module.span(node)[0]
        self.binds = _bound_names(node)
        self.kind, self.why = slicer.classify(node)


class _ModuleSlicer:
    def __init__(self, project: Project, module: ModuleInfo) -> None:
        self.project = project
        self.module = module
        self.statements = [_Statement(self, s) for s in module.tree.body]

    # -- classification ------------------------------------------------------------------
    def classify(self, node: cst.CSTNode) -> tuple[str, str]:
        """("def" | "import" | "assign" | "skip", why it is skipped)."""
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return "def", ""
        if _is_main_guard(node):
            return "skip", "it is bound in the `if __name__ == \"__main__\":` block"
        if isinstance(node, cst.Try) and self._imports_only(node):
            return "try-import", ""
        if isinstance(node, cst.SimpleStatementLine):
            if all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in node.body):
                if any(isinstance(s, cst.ImportFrom) and isinstance(s.names, cst.ImportStar) for s in node.body):
                    return "def", ""
                return "import", ""
            if all(isinstance(s, (cst.Assign, cst.AnnAssign)) for s in node.body):
                for small in node.body:
                    value = small.value
                    if value is None or not self._safe_value(value):
                        return "skip", "it is computed by module-level code that losslint does not run"
                return "assign", ""
            return "skip", "it is bound by module-level code that losslint does not run"
        return "skip", (f"it is bound inside a module-level `{type(node).__name__.lower()}` block, "
                        "which losslint does not run")

    def _imports_only(self, node: cst.Try) -> bool:
        blocks = [node.body] + [h.body for h in node.handlers]
        if node.orelse is not None or node.finalbody is not None:
            return False
        for block in blocks:
            for statement in block.body:
                if not isinstance(statement, cst.SimpleStatementLine):
                    return False
                if not all(isinstance(s, (cst.Import, cst.ImportFrom, cst.Pass)) for s in statement.body):
                    return False
        return True

    def _safe_value(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        if depth > 20:
            return False
        if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString,
                             cst.ConcatenatedString, cst.Name, cst.Ellipsis)):
            return True
        if isinstance(expr, cst.Attribute):
            return self._safe_value(expr.value, depth + 1)
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            return all(self._safe_value(e.value, depth + 1) for e in expr.elements)
        if isinstance(expr, cst.Dict):
            return all(isinstance(e, cst.DictElement) and self._safe_value(e.key, depth + 1)
                       and self._safe_value(e.value, depth + 1) for e in expr.elements)
        if isinstance(expr, cst.UnaryOperation):
            return self._safe_value(expr.expression, depth + 1)
        if isinstance(expr, cst.BinaryOperation):
            return self._safe_value(expr.left, depth + 1) and self._safe_value(expr.right, depth + 1)
        if isinstance(expr, cst.Subscript):
            return self._safe_value(expr.value, depth + 1)
        if isinstance(expr, cst.Call):
            if not isinstance(expr.func, (cst.Name, cst.Attribute)):
                return False
            resolved = self.project.resolve(expr.func, self.module.scope)
            if not isinstance(resolved, External):
                return False
            name = resolved.qualified
            safe = (name in _SAFE_CALLS or name.startswith(_SAFE_CALL_PREFIXES)
                    or catalogue.is_loss_class(name) or catalogue.is_metric_class(name))
            return safe and all(self._safe_value(a.value, depth + 1) for a in expr.args)
        return False

    # -- slicing -------------------------------------------------------------------------
    def slice(self, wanted: set[str], everything: bool = False) -> tuple[list[str], set[str], dict[str, str],
                                                                         list[tuple[str, set[str] | None]]]:
        """(statement codes, names defined, skipped name -> why, [(imported module, names)])."""
        chosen: dict[int, set[str] | None] = {}  # statement index -> names to import (None = all)
        skipped: dict[str, str] = {}
        todo = list(wanted)
        if everything:
            for i, statement in enumerate(self.statements):
                if statement.kind != "skip":
                    chosen[i] = None
                    todo += referenced_names(statement.code)
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for i, statement in enumerate(self.statements):
                if name not in statement.binds:
                    continue
                if statement.kind == "skip":
                    skipped.setdefault(name, f"line {statement.line}: {statement.why}")
                    continue
                if statement.kind == "import":
                    names = chosen.setdefault(i, set())
                    if names is not None:
                        names.add(name)
                    continue
                if i not in chosen:
                    chosen[i] = None
                    todo += referenced_names(statement.code)
        codes: list[str] = []
        imports: list[tuple[str, set[str] | None]] = []
        for i in sorted(chosen):
            statement = self.statements[i]
            if statement.kind == "import":
                code, used = self._import_code(statement, chosen[i] or set())
                codes.append(code)
                imports += used
            else:
                codes.append(statement.code.strip("\n"))
                for node in _walk(statement.node):
                    if isinstance(node, (cst.Import, cst.ImportFrom)):
                        imports += self._scanned_imports(node, None)
        defined = set().union(*(self.statements[i].binds for i in chosen)) if chosen else set()
        return codes, defined, {k: v for k, v in skipped.items() if k not in defined}, imports

    def _import_code(self, statement: _Statement, names: set[str]) -> tuple[str, list]:
        """The import statement reduced to the aliases that bind `names`."""
        kept_lines = []
        imports = []
        for small in statement.node.body:
            aliases = [a for a in small.names if self._alias_binds(a) in names]
            if not aliases:
                continue
            aliases = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in aliases]
            reduced = small.with_changes(names=aliases, lpar=None, rpar=None) if isinstance(small, cst.ImportFrom) \
                else small.with_changes(names=aliases)
            if isinstance(small, cst.ImportFrom) and small.lpar is not None:
                reduced = small.with_changes(names=aliases, lpar=None, rpar=None)
            kept_lines.append(cst.Module([]).code_for_node(reduced))
            imports += self._scanned_imports(reduced, {self._alias_binds(a) for a in aliases})
        return "\n".join(kept_lines), imports

    @staticmethod
    def _alias_binds(alias: cst.ImportAlias) -> str:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            return alias.asname.name.value
        return cst.Module([]).code_for_node(alias.name).split(".")[0]

    def _absolute(self, node: cst.ImportFrom) -> str:
        return import_from_base(self.module, node)

    def _scanned_imports(self, node, names: set[str] | None) -> list[tuple[str, set[str] | None]]:
        """[(absolute module name as imported, names wanted from it or None for all)] for
        imports that reach scanned modules."""
        found = []
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = cst.Module([]).code_for_node(alias.name)
                parts = full.split(".")
                for cut in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:cut])
                    if self.project.find_module(prefix, self.module) is not None:
                        found.append((prefix, None))
        elif isinstance(node, cst.ImportFrom):
            base = self._absolute(node)
            parts = base.split(".") if base else []
            for cut in range(1, len(parts)):
                prefix = ".".join(parts[:cut])
                if self.project.find_module(prefix, self.module) is not None:
                    found.append((prefix, set()))  # parent packages: their __init__ is run
            if isinstance(node.names, cst.ImportStar):
                if self.project.find_module(base, self.module) is not None:
                    found.append((base, None))
                return found
            module_found = self.project.find_module(base, self.module) is not None if base else False
            wanted: set[str] = set()
            for alias in node.names:
                name = cst.Module([]).code_for_node(alias.name)
                if names is not None and self._alias_binds(alias) not in names:
                    continue
                submodule = f"{base}.{name}" if base else name
                if self.project.find_module(submodule, self.module) is not None and (
                        not module_found or name not in self._module_bindings(base)):
                    found.append((submodule, None))
                else:
                    wanted.add(name)
            if module_found and wanted:
                found.append((base, wanted))
        return found

    def _module_bindings(self, name: str) -> set[str]:
        module = self.project.find_module(name, self.module)
        return set(module.scope.bindings) if module is not None else set()


# --------------------------------------------------------------------------------------------
# The loss itself


def _literal(code: str) -> bool:
    try:
        ast.literal_eval(code)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _call_args_code(module: ModuleInfo, call: cst.Call, skip: int = 0) -> tuple[str, bool]:
    """The arguments of `call` after the first `skip` positional ones, as source, and whether
    they are all literals."""
    parts = []
    literal = True
    positional = 0
    for arg in call.args:
        if arg.keyword is None and not arg.star:
            positional += 1
            if positional <= skip:
                continue
        value = module.tree.code_for_node(arg.value)
        literal = literal and not arg.star and _literal(value)
        prefix = f"{arg.keyword.value}=" if arg.keyword is not None else arg.star
        parts.append(prefix + value)
    return ", ".join(parts), literal


def _sites(project: Project, entity, name: str):
    """Call sites anywhere in the scan whose callee resolves to `entity`."""
    for module in project.modules:
        for site in module.calls_by_name.get(name, ()):
            if isinstance(site.call.func, (cst.Name, cst.Attribute)) and \
                    project.resolve(site.call.func, site.scope) is entity:
                yield module, site


def _pick_arguments(project: Project, entity, name: str, skip: int = 0,
                    accept=lambda site: True) -> tuple[str, str] | None:
    """(argument source, where) from a call site with literal arguments, if any."""
    for module, site in _sites(project, entity, name):
        if not accept(site):
            continue
        code, literal = _call_args_code(module, site.call, skip)
        if literal:
            return code, f"{module.display}:{module.span(site.call)[0]}"
    return None


def _has_required_params(function: FunctionInfo, skip_self: bool = False) -> bool:
    params = function.positional_params()[1 if skip_self else 0:]
    return any(p.default is None for p in params) or any(
        p.default is None for p in function.node.params.kwonly_params)


def _enclosing_function(function: FunctionInfo) -> FunctionInfo | None:
    parent = function.scope.parent
    if parent is None or parent.kind != "function":
        return None
    for candidate in function.module.functions:
        if candidate.node is parent.node:
            return candidate
    return None


def _returned_by(outer: FunctionInfo, inner: FunctionInfo) -> bool:
    for value in _returns(outer):
        if value is inner.node:
            return True
        if isinstance(value, cst.Name) and isinstance(inner.node, cst.FunctionDef) and value.value == inner.name:
            return True
    return False


class JobBuilder:
    """Builds `ProbeJob`s for loss targets of one scanned project."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._slicers: dict[int, _ModuleSlicer] = {}

    def _slicer(self, module: ModuleInfo) -> _ModuleSlicer:
        if id(module) not in self._slicers:
            self._slicers[id(module)] = _ModuleSlicer(self.project, module)
        return self._slicers[id(module)]

    # -- the expression that builds the loss -----------------------------------------------
    def _build(self, target: LossTarget) -> tuple[str, list[str], str | None]:
        """(statement defining LOSS_NAME, extra lifted code, error)."""
        function = target.function
        module = function.module
        if function.cls is not None:
            return self._build_method(function)
        outer = _enclosing_function(function)
        if outer is None:
            if isinstance(function.node, cst.Lambda):
                if function.scope.parent is not None and function.scope.parent.kind == "class":
                    return "", [], "a lambda in a class body is not probed"
                return f"{LOSS_NAME} = ({module.tree.code_for_node(function.node)})", [], None
            return self._build_partial(target, function.name)
        if _returned_by(outer, function) and _enclosing_function(outer) is None and outer.cls is None:
            # A factory: call it with what the compile site passed, else its defaults.
            picked = _pick_arguments(self.project, outer, outer.name)
            if picked is None and _has_required_params(outer):
                return "", [], (f"the factory `{outer.name}` needs arguments and no call with literal "
                                "arguments was found; give the loss by hand with `losslint probe`")
            args = picked[0] if picked else ""
            return f"{LOSS_NAME} = {outer.name}({args})", [], None
        # Defined inside a function that is not a factory (a `main()`): lift it out; names it
        # takes from the enclosing function are then missing and reported as such.
        code = textwrap.dedent(module.tree.code_for_node(function.node))
        if isinstance(function.node, cst.Lambda):
            return f"{LOSS_NAME} = ({code})", [], None
        return f"{LOSS_NAME} = {function.name}", [code], None

    def _build_partial(self, target: LossTarget, name: str) -> tuple[str, list[str], str | None]:
        if not (target.bound_positional or target.bound_keywords):
            return f"{LOSS_NAME} = {name}", [], None
        function = target.function
        partial_sites = []
        for module in self.project.modules:
            for site in module.calls_by_name.get("partial", ()):
                positional = [a.value for a in site.call.args if a.keyword is None and not a.star]
                if positional and isinstance(positional[0], (cst.Name, cst.Attribute)) and \
                        self.project.resolve(positional[0], site.scope) is function:
                    partial_sites.append((module, site))
        for module, site in partial_sites:
            code, literal = _call_args_code(module, site.call, skip=1)
            if literal:
                return (f"import functools as __losslint_functools__\n"
                        f"{LOSS_NAME} = __losslint_functools__.partial({name}{', ' if code else ''}{code})"), [], None
        params = {p.name.value: p for p in function.positional_params() + list(function.node.params.kwonly_params)}
        if not target.bound_positional and all(params.get(k) is not None and params[k].default is not None
                                               for k in target.bound_keywords):
            return f"{LOSS_NAME} = {name}", [], None  # the bound keywords keep their defaults
        return "", [], "the arguments bound by functools.partial are not literals"

    def _build_method(self, function: FunctionInfo) -> tuple[str, list[str], str | None]:
        cls: ClassInfo = function.cls
        if cls.scope.parent is None or cls.scope.parent.kind != "module":
            return "", [], f"the class `{cls.qualname}` is not defined at module level"
        init = cls.methods.get("__init__")
        picked = _pick_arguments(self.project, cls, cls.name)
        if picked is None and init is not None and _has_required_params(init, skip_self=True):
            return "", [], (f"`{cls.name}(...)` needs arguments and no call with literal arguments was "
                            "found")
        args = picked[0] if picked else ""
        return f"{LOSS_NAME} = {cls.name}({args}).{function.name}", [], None

    # -- the job ---------------------------------------------------------------------------
    def job(self, target: LossTarget) -> ProbeJob:
        function = target.function
        module = function.module
        job = ProbeJob(function.qualname, module.display)
        build, lifted, error = self._build(target)
        if error:
            job.error = error
            return job
        wanted = set()
        for code in [*lifted, build]:
            wanted |= referenced_names(code)
        main_codes, _, skipped, imports = self._slicer(module).slice(wanted)
        job.skipped.update(skipped)
        sliced: dict[str, SlicedModule] = {}
        order: list[str] = []
        self._add_imports(module, imports, sliced, order, job, depth=0)
        main = SlicedModule(module.name, module.package(), module.is_package, module.display,
                            "\n".join([*main_codes, *lifted, build]) + "\n")
        job.modules = [sliced[name] for name in order if name != module.name] + [main]
        # The mode follows the modules' own imports, not the slices' (a loss may use only `tf`
        # in a module written for tf_keras).
        originals = [module] + [self.project.find_module(m.name, module) for m in job.modules]
        job.legacy_keras = any(_imports_tf_keras(m.source) for m in originals if m is not None)
        return job

    def _add_imports(self, importer: ModuleInfo, imports, sliced: dict, order: list, job: ProbeJob,
                     depth: int) -> None:
        if depth > 10:
            return
        merged: dict[str, set[str] | None] = {}
        for name, names in imports:
            if name in merged and merged[name] is None:
                continue
            merged[name] = None if names is None else (merged.get(name) or set()) | names
        for name, names in merged.items():
            module = self.project.find_module(name, importer)
            if module is None:
                continue
            previous = getattr(sliced.get(name), "_wanted", set())
            if name in sliced and (previous is None or (names is not None and names <= previous)):
                continue
            wanted = None if names is None or previous is None else names | previous
            codes, _, skipped, sub_imports = self._slicer(module).slice(wanted or set(), everything=wanted is None)
            for key, why in skipped.items():
                job.skipped.setdefault(key, f"{module.display}, {why}")
            self._add_imports(module, sub_imports, sliced, order, job, depth + 1)
            if name == module.name:
                package = module.package()
            else:
                package = name if module.is_package else name.rpartition(".")[0]
            entry = SlicedModule(name, package, module.is_package, module.display, "\n".join(codes) + "\n")
            entry._wanted = wanted  # type: ignore[attr-defined]
            sliced[name] = entry
            if name in order:
                order.remove(name)
            order.append(name)


def _imports_tf_keras(source: str) -> bool:
    tree = _ast_of(source)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "tf_keras" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tf_keras":
            return True
    return False
