"""Which functions reach Keras as losses.

Sources, strongest first:
  compile         `X.compile(loss=...)` (or the second positional argument): names,
                  attributes, lambdas, lists/tuples/dicts, factory calls (the inner function
                  they return), `functools.partial`, Loss subclass instances,
                  `keras.losses.get(fn)`, methods of instances of scanned classes
                  (`obj.method` with `obj = Class(...)`, `Class(...).method`), and variables
                  or loop variables bound to any of these; parameters through their callers
                  and defaults (a constructor's through `Class(...)`), `self.loss` also through
                  `obj.loss = fn` elsewhere, element i of a factory's tuple when unpacked, and
                  `untyped.get_loss()` through every method of that name. An identity loss
                  (`lambda y_true, y_pred: y_pred`) stands for the Lambda layers that compute
                  the compiled model's outputs (`model_output_losses`).
  loss-subclass   `call` of a class deriving (here or through scanned classes) from
                  `keras.losses.Loss`, unless the class overrides `__call__` (then Keras uses
                  its result as the final scalar).
  wrapper         `LossFunctionWrapper(fn)`.
  custom-objects  loss-shaped functions registered in `custom_objects={...}` (or a dict
                  filled by item assignments and handed over whole).
  signature       a function whose first two parameters are `y_true, y_pred` (a library of
                  losses compiled elsewhere), unless the scan shows it used only as a metric,
                  helper, custom-training-loop function or per-sample mapped function.

The weak sources (custom-objects, signature) also register metrics, which return a scalar on
purpose, so they share the metric exclusions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from losslint import catalogue
from losslint.project import (
    AssignBinding,
    CallSite,
    ExtendBinding,
    ClassInfo,
    External,
    FunctionInfo,
    IterBinding,
    ModuleInfo,
    ParamBinding,
    Project,
    Scope,
    UnpackedBinding,
    Walker,
    children,
    last_name,
)

# How a loss reaches Keras, strongest first. The strong ones are Keras calling it; the weak
# ones (also used to register metrics) are a guess that the metric evidence can overturn.
SOURCES = ("compile", "loss-subclass", "wrapper", "registry", "custom-objects", "signature")
STRONG_SOURCES = SOURCES[:3]
# Bindings whose values a name in loss or metric position stands for, all of them at once.
_FOLLOWED = (AssignBinding, ExtendBinding, IterBinding, ParamBinding)
_MAX_DEPTH = 8


@dataclass(frozen=True)
class LossTarget:
    function: FunctionInfo
    source: str
    bound_positional: int = 0
    bound_keywords: tuple[str, ...] = ()
    # The call that makes it a loss (`model.compile(...)`, the wrapper, `load_model(...,
    # custom_objects=...)`), for the inventory (`--show-losses`); None for a Loss subclass or
    # a signature. Not part of what makes two targets equal.
    site: CallSite | None = field(default=None, compare=False)

    @property
    def inferred(self) -> bool:
        return self.source == "signature"


def class_kind(project: Project, cls: ClassInfo, _seen: frozenset = frozenset()) -> str | None:
    """"loss" for a Keras Loss subclass, "metric" for a Metric subclass, else None."""
    if id(cls) in _seen or len(_seen) > 20:
        return None
    for base in cls.node.bases:
        if base.keyword is not None:
            continue
        resolved = project.resolve(base.value, cls.scope.parent or cls.scope)
        if isinstance(resolved, External):
            name = resolved.qualified
            if name in catalogue.LOSS_BASES or catalogue.is_loss_class(name):
                return "loss"
            if name.rpartition(".")[2] in catalogue.LOSS_BASE_NAMES and name.split(".")[0] not in catalogue.API_ROOTS \
                    and not _overrides_dunder_call(project, cls):
                # `from ..base import Loss` of a module the scan does not hold (a file checked
                # alone): `call(self, y_true, y_pred)` on a `Loss` is Keras' protocol; a class
                # that defines `__call__` there is a plain loss object of its library
                return "loss"
            if catalogue.is_metric_class(name):
                return "metric"
        elif isinstance(resolved, ClassInfo):
            kind = class_kind(project, resolved, _seen | {id(cls)})
            if kind:
                return kind
    return None


def _overrides_dunder_call(project: Project, cls: ClassInfo) -> bool:
    seen = set()
    todo = [cls]
    while todo:
        klass = todo.pop()
        if id(klass) in seen:
            continue
        seen.add(id(klass))
        if "__call__" in klass.methods:
            return True
        for base in klass.node.bases:
            resolved = project.resolve(base.value, klass.scope.parent or klass.scope)
            if isinstance(resolved, ClassInfo):
                todo.append(resolved)
    return False


def _returns(function: FunctionInfo) -> list[cst.BaseExpression]:
    """The expressions a function returns, not counting nested functions and classes."""
    if isinstance(function.node, cst.Lambda):
        return [function.node.body]
    walker = _Returns(function.node)
    walker.walk(function.node)
    return walker.found


class _Returns(Walker):
    """The return values of one function's own body. (A class at module level: a class
    defined in a function is a reference cycle, and its methods' closures kept the analysed
    trees alive until the cyclic collector ran.)"""

    def __init__(self, node: cst.CSTNode) -> None:
        self.node = node
        self.found: list[cst.BaseExpression] = []

    def visit_FunctionDef(self, node):
        return node is self.node

    def visit_ClassDef(self, node):
        return False

    def visit_Lambda(self, node):
        return False

    def visit_Return(self, node):
        if node.value is not None:
            self.found.append(node.value)


def is_loss_shaped(function: FunctionInfo, bound: int = 0, keywords: tuple[str, ...] = ()) -> bool:
    """Can Keras call it as fn(y_true, y_pred)? Two required positional parameters left once
    `functools.partial` has bound `bound` positional arguments and the `keywords`."""
    params = function.call_params()[bound:]
    params = [p for p in params if p.name.value not in keywords]
    required = [p for p in params if p.default is None]
    kwonly_required = [p for p in function.node.params.kwonly_params
                       if p.default is None and p.name.value not in keywords]
    return len(required) == 2 and params[:2] == required and not kwonly_required


def accepts_pair(function: FunctionInfo) -> bool:
    """Can it be called as fn(y_true, y_pred), whatever its defaults? What Keras does with a
    compiled function or a Loss subclass's `call` (`call(self, scores, y_pred=None)`)."""
    params = function.call_params()
    required = [p for p in params if p.default is None]
    kwonly_required = [p for p in function.node.params.kwonly_params if p.default is None]
    star = isinstance(function.node.params.star_arg, cst.Param)
    return len(required) <= 2 and (len(params) >= 2 or star) and not kwonly_required


# Sources whose function Keras itself calls with exactly (y_true, y_pred): defaults beyond
# those do not matter.
_CALLED_AS_PAIR = frozenset({"compile", "loss-subclass"})


def has_keras_signature(function: FunctionInfo) -> bool:
    params = [p.name.value for p in function.call_params()]
    return params[:2] == ["y_true", "y_pred"] and is_loss_shaped(function)


class Finder:
    def __init__(self, project: Project) -> None:
        self.project = project
        # The evidence that a weak candidate is not a loss, by identity:
        self._metric_ids: set[int] = set()  # id(node) of functions passed as metrics
        self._not_loss_ids: set[int] = set()  # ... used in training loops, mapped per sample
        self._helper_ids: set[int] = set()  # ... called by losses
        self._coefficient_ids: set[int] = set()  # ... whose result a loss takes `1 - ...` of
        self._complements: dict[int, set[int]] = {}  # `_complemented_calls` per function
        self._calls_by_function: dict[int, list[CallSite]] | None = None
        self._metric_exprs: list[tuple[cst.BaseExpression, Scope]] = []  # `metrics=` values
        self._mapped_exprs: list[tuple[cst.BaseExpression, Scope]] = []  # `tf.map_fn(fn, ...)`
        self._step_ids: set[int] = set()  # functions run by `strategy.run(...)`
        self._memo: dict[tuple, list] = {}

    # -- resolving an expression in loss position ---------------------------------------
    def resolve(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0,
                bound: int = 0, keywords: tuple[str, ...] = ()) -> list[tuple[FunctionInfo, int, tuple]]:
        """The functions an expression in loss position stands for (memoised; cycles yield [])."""
        if depth > _MAX_DEPTH:
            return []
        key = (id(expr), bound, keywords)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = []
        result = self._resolve(expr, scope, depth, bound, keywords)
        self._memo[key] = result
        return result

    def _resolve(self, expr: cst.BaseExpression, scope: Scope, depth: int,
                 bound: int, keywords: tuple[str, ...]) -> list[tuple[FunctionInfo, int, tuple]]:
        results: list[tuple[FunctionInfo, int, tuple]] = []
        if isinstance(expr, cst.Lambda):
            fn = self._function_for(expr, scope.module)
            return [(fn, bound, keywords)] if fn else []
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                results += self.resolve(element.value, scope, depth + 1, bound, keywords)
            return results
        if isinstance(expr, cst.Dict):
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    results += self.resolve(element.value, scope, depth + 1, bound, keywords)
            return results
        if isinstance(expr, cst.IfExp):
            return (self.resolve(expr.body, scope, depth + 1, bound, keywords)
                    + self.resolve(expr.orelse, scope, depth + 1, bound, keywords))
        if isinstance(expr, cst.Subscript):
            # `LOSSES[name]`, `losses["dice"]`: any value the registry holds.
            results = self.resolve(expr.value, scope, depth + 1, bound, keywords)
            for value, value_scope in self._registry_values(expr.value, scope):
                results += self.resolve(value, value_scope, depth + 1, bound, keywords)
                for entity in self._registrar_targets(value, value_scope):
                    if isinstance(entity, FunctionInfo):
                        results.append((entity, bound, keywords))
            return results
        if isinstance(expr, cst.Call):
            return self._resolve_call(expr, scope, depth, bound, keywords)
        if isinstance(expr, (cst.Name, cst.Attribute)):
            self_attr = self._self_attribute(expr, scope)
            if self_attr is not None:
                cls, attr = self_attr
                for value, method in cls.self_attrs.get(attr, []):
                    results += self.resolve(value, method.scope, depth + 1, bound, keywords)
                if attr in cls.methods:
                    results.append((cls.methods[attr], bound, keywords))
                # and what code outside the class assigns to that attribute of some object
                # (`net.loss = dice_crossentropy` before `net.train()` compiles `self.loss`)
                self.project.parse_assigning(attr)
                for module in list(self.project.modules):
                    for value, value_scope in module.attr_assigns.get(attr, ()):
                        results += self.resolve(value, value_scope, depth + 1, bound, keywords)
                return results
            if isinstance(expr, cst.Attribute):
                # `losses = SegmentationLosses(); model.compile(loss=losses.dice_loss)`
                cls = self._instance_class(expr.value, scope)
                method = self._find_method(cls, expr.attr.value) if cls is not None else None
                if method is not None:
                    return [(method, bound, keywords)]
            if isinstance(expr, cst.Name):
                bindings = scope.lookup(expr.value)
                if bindings and any(isinstance(b, _FOLLOWED) for b in bindings):
                    # every value the name may hold; one bound by unpacking (`loss, w = f()`)
                    # holds something the scan cannot tell
                    for binding in bindings:
                        if isinstance(binding, _FOLLOWED):
                            results += self._resolve_binding(binding, depth, bound, keywords)
                        else:
                            results += self._resolve_entity(self.project.entity_of(binding), depth, bound, keywords)
                    return results
            resolved = self.project.resolve(expr, scope)
            return self._resolve_entity(resolved, depth, bound, keywords)
        return results

    def _resolve_binding(self, binding, depth: int, bound: int, keywords: tuple):
        if isinstance(binding, AssignBinding) and isinstance(binding.value, cst.Dict):
            # a registry filled after it is made (`LOSSES = {}`, then `LOSSES["nll"] = nll`),
            # handed over whole (`custom_objects=LOSSES`)
            results = self.resolve(binding.value, binding.scope, depth + 1, bound, keywords)
            for value, where in self._items_of(binding):
                results += self.resolve(value, where, depth + 1, bound, keywords)
            return results
        if isinstance(binding, (AssignBinding, ExtendBinding)):
            return self.resolve(binding.value, binding.scope, depth + 1, bound, keywords)
        if isinstance(binding, IterBinding):
            return self.resolve(binding.iterable, binding.scope, depth + 1, bound, keywords)
        if isinstance(binding, ParamBinding):
            return self._resolve_argument(binding, depth, bound, keywords)
        if isinstance(binding, UnpackedBinding) and isinstance(binding.value, cst.Call):
            # `loss, weights = get_loss(cfg)`: element `index` of the tuples the factory returns
            results = []
            for element, scope in self._returned_elements(binding.value, binding.scope, binding.index):
                results += self.resolve(element, scope, depth + 1, bound, keywords)
            return results
        return []

    def _returned_elements(self, call: cst.Call, scope: Scope, index: int):
        """(expression, scope) of element `index` of each tuple a factory call returns."""
        callee = self.project.resolve(call.func, scope) if isinstance(call.func, (cst.Name, cst.Attribute)) else None
        if isinstance(callee, FunctionInfo):
            factories = [callee]
        elif isinstance(call.func, cst.Attribute) and not isinstance(callee, (ClassInfo, ModuleInfo)):
            factories = self._loss_making_methods(call.func.attr.value)
        else:
            factories = []
        return [(value.elements[index].value, fn.scope) for fn in factories for value in _returns(fn)
                if isinstance(value, (cst.Tuple, cst.List)) and index < len(value.elements)]

    def _resolve_argument(self, binding: ParamBinding, depth: int, bound: int, keywords: tuple):
        """A parameter in loss position: what the scanned callers pass for it."""
        function = binding.function
        params = function.positional_params()
        names = [p.name.value for p in params]
        index = names.index(binding.name) if binding.name in names else None
        if function.cls is not None and index is not None:
            index -= 1  # called as a method: self is not in the argument list
        results = []
        param = next((p for p in [*params, *function.node.params.kwonly_params] if p.name.value == binding.name), None)
        if param is not None and param.default is not None:
            # what a caller that leaves the parameter out gets
            results += self.resolve(param.default, function.scope.parent or function.scope, depth + 1, bound, keywords)
        # a constructor's parameter: what `Trainer(model, loss=focal)` passes
        called = function.cls.name if function.name == "__init__" and function.cls is not None else function.name
        self.project.parse_calling(called)
        for module in list(self.project.modules):
            for site in module.calls_by_name.get(called, ()):
                if not (self._calls(site, function) if called == function.name
                        else self.project.resolve(site.call.func, site.scope) is function.cls):
                    continue
                argument = None
                for arg in site.call.args:
                    if arg.keyword is not None and arg.keyword.value == binding.name:
                        argument = arg.value
                positional = [a.value for a in site.call.args if a.keyword is None and not a.star]
                if argument is None and index is not None and 0 <= index < len(positional):
                    argument = positional[index]
                if argument is not None:
                    results += self.resolve(argument, site.scope, depth + 1, bound, keywords)
        return results

    def _resolve_entity(self, resolved, depth: int, bound: int, keywords: tuple):
        if isinstance(resolved, FunctionInfo):
            return [(resolved, bound, keywords)]
        if isinstance(resolved, (AssignBinding, IterBinding)):
            return self._resolve_binding(resolved, depth, bound, keywords)
        return []

    def _resolve_call(self, call: cst.Call, scope: Scope, depth: int, bound: int, keywords: tuple):
        callee = self.project.resolve(call.func, scope) if isinstance(call.func, (cst.Name, cst.Attribute)) else None
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        if isinstance(callee, External):
            name = callee.qualified
            if name == "functools.partial" and positional:
                names = tuple(a.keyword.value for a in call.args if a.keyword is not None)
                return self.resolve(positional[0], scope, depth + 1, bound + len(positional) - 1,
                                    keywords + names)
            if name in catalogue.LOSS_WRAPPERS or last_name(call.func) == "LossFunctionWrapper":
                fn = positional[0] if positional else next(
                    (a.value for a in call.args
                     if a.keyword is not None and a.keyword.value in ("fn", "identifier")), None)
                return self.resolve(fn, scope, depth + 1, bound, keywords) if fn is not None else []
            return []
        if isinstance(callee, ClassInfo):
            return self._instance_losses(callee)
        if isinstance(call.func, cst.Subscript):
            # `LOSSES[name]()`: an instance of a registered class, or what a factory returns.
            results = []
            for entity in self._registered_entities(call.func, scope):
                if isinstance(entity, ClassInfo):
                    results += self._instance_losses(entity)
                elif isinstance(entity, FunctionInfo):
                    for value in _returns(entity):
                        results += self.resolve(value, entity.scope, depth + 1, bound, keywords)
            return results
        if isinstance(callee, FunctionInfo):
            # A factory: the losses are what it returns.
            results = []
            for value in _returns(callee):
                results += self.resolve(value, callee.scope, depth + 1, bound, keywords)
            return results
        if isinstance(callee, AssignBinding):
            # `make = focal_loss; loss=make(2.0)`
            inner = self.resolve(callee.value, callee.scope, depth + 1)
            results = []
            for fn, _, _ in inner:
                for value in _returns(fn):
                    results += self.resolve(value, fn.scope, depth + 1, bound, keywords)
            return results
        if isinstance(call.func, cst.Attribute) and not isinstance(callee, (FunctionInfo, ClassInfo, ModuleInfo)):
            return self._duck_factory(call.func.attr.value, depth, bound, keywords)
        return []

    def _duck_factory(self, method: str, depth: int, bound: int, keywords: tuple):
        """`loss = app.get_loss_function()` on an object the scan cannot type (picked from a
        dict of applications, a config): what every scanned method of that name returns, when
        the name says it makes a loss. Each class of such a family hands out its own loss."""
        results = []
        for fn in self._loss_making_methods(method):
            for value in _returns(fn):
                results += self.resolve(value, fn.scope, depth + 1, bound, keywords)
        return results

    def _loss_making_methods(self, method: str) -> list[FunctionInfo]:
        """Every scanned method called `method`, when the name says it makes a loss."""
        if not _words(method) & catalogue.LOSS_NAME_WORDS:
            return []
        self.project.parse_defining(method)
        return [fn for fn in list(self.project.functions()) if fn.name == method and fn.cls is not None]

    # -- losses computed by the model ------------------------------------------------------
    def model_output_losses(self, target: LossTarget) -> list[FunctionInfo]:
        """For an identity loss (`lambda y_true, y_pred: y_pred`) compiled on a model built as
        `Model(inputs, Lambda(yolo_loss, ...)(tensors))`: the functions of those Lambda layers,
        whose value is what Keras takes as the per-sample loss (keras-yolo3, CenterNet)."""
        site = target.site
        if target.source != "compile" or site is None or not _returns_second_parameter(target.function):
            return []
        func = site.call.func
        if not isinstance(func, cst.Attribute):
            return []
        found: list[FunctionInfo] = []
        for call, scope in self._model_builds(func.value, site.scope, 0):
            positional = [a.value for a in call.args if a.keyword is None and not a.star]
            keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
            outputs = keywords.get("outputs", keywords.get("output", positional[1] if len(positional) > 1 else None))
            if outputs is not None:
                found += self._lambda_functions(outputs, scope, 0)
        return list({id(fn.node): fn for fn in found}.values())

    def _model_builds(self, expr: cst.BaseExpression, scope: Scope, depth: int,
                      index: int | None = None) -> list[tuple[cst.Call, Scope]]:
        """The `Model(...)` calls an expression may stand for (element `index` of it when it is
        unpacked): through names and the returns of the scanned functions that build the model
        (`model = create_model(...)`)."""
        if depth > _MAX_DEPTH:
            return []
        if isinstance(expr, cst.Name):
            found = []
            for binding in scope.lookup(expr.value):
                if isinstance(binding, AssignBinding):
                    found += self._model_builds(binding.value, binding.scope, depth + 1)
                elif isinstance(binding, UnpackedBinding) and binding.value is not None:
                    # `model, base = create_model()`: element `index` of what the factory returns
                    found += self._model_builds(binding.value, binding.scope, depth + 1, binding.index)
            return found
        if isinstance(expr, (cst.Tuple, cst.List)) and index is not None:
            elements = [e.value for e in expr.elements]
            return self._model_builds(elements[index], scope, depth + 1) if index < len(elements) else []
        if isinstance(expr, cst.Call) and index is None and last_name(expr.func) in catalogue.MODEL_BUILDERS:
            return [(expr, scope)]
        if isinstance(expr, cst.Call):
            callee = self.project.resolve(expr.func, scope) if isinstance(expr.func, (cst.Name, cst.Attribute)) else None
            if isinstance(callee, FunctionInfo):
                return [found for value in _returns(callee)
                        for found in self._model_builds(value, callee.scope, depth + 1, index)]
        return []

    def _lambda_functions(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> list[FunctionInfo]:
        """The functions of the `Lambda(fn, ...)(tensors)` layers an output expression is."""
        if depth > _MAX_DEPTH:
            return []
        if isinstance(expr, (cst.List, cst.Tuple)):
            return [fn for e in expr.elements for fn in self._lambda_functions(e.value, scope, depth + 1)]
        if isinstance(expr, cst.Name):
            return [fn for binding in scope.lookup(expr.value) if isinstance(binding, AssignBinding)
                    for fn in self._lambda_functions(binding.value, binding.scope, depth + 1)]
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Call) \
                and last_name(expr.func.func) in catalogue.LAMBDA_LAYERS:
            layer = expr.func
            wrapped = next((a.value for a in layer.args if a.keyword is None or a.keyword.value == "function"), None)
            if isinstance(wrapped, cst.Lambda):
                fn = self._function_for(wrapped, scope.module)
                return [fn] if fn is not None else []
            if isinstance(wrapped, (cst.Name, cst.Attribute)):
                resolved = self.project.resolve(wrapped, scope)
                return [resolved] if isinstance(resolved, FunctionInfo) else []
        return []

    def _instance_losses(self, cls: ClassInfo) -> list[tuple[FunctionInfo, int, tuple]]:
        """What Keras calls on an instance passed as a loss: `call` of a Loss subclass (through
        Keras' own `__call__`), or the `__call__` of a plain callable class. A Loss subclass
        that overrides `__call__` returns Keras' final value itself: not a per-sample loss."""
        kind = class_kind(self.project, cls)
        if kind == "loss":
            if _overrides_dunder_call(self.project, cls):
                return []
            method = self._find_method(cls, "call")
        elif kind is None:
            method = self._find_method(cls, "__call__")
        else:
            return []
        return [(method, 0, ())] if method is not None else []

    def _wrapped_by_init(self, cls: ClassInfo):
        """(site, function) for a `LossFunctionWrapper` subclass whose `__init__` hands its
        loss function to the base: `super().__init__(lifted_struct_loss, name=...)` (the
        TensorFlow Addons way of shipping a loss as a class)."""
        init = cls.methods.get("__init__")
        if init is None or not self._derives_from_wrapper(cls):
            return []
        found = []
        for site in init.module.calls_by_name.get("__init__", ()):
            call = site.call
            if site.in_function is not init or not isinstance(call.func, cst.Attribute):
                continue
            receiver = call.func.value
            via_super = isinstance(receiver, cst.Call) and last_name(receiver.func) == "super"
            positional = [a.value for a in call.args if a.keyword is None and not a.star]
            if not via_super and positional:
                positional = positional[1:]  # `LossFunctionWrapper.__init__(self, fn, ...)`
            fn = positional[0] if positional else next(
                (a.value for a in call.args if a.keyword is not None and a.keyword.value == "fn"), None)
            if fn is not None:
                found.append((site, fn))
        return found

    def _derives_from_wrapper(self, cls: ClassInfo) -> bool:
        todo, seen = [cls], set()
        while todo:
            klass = todo.pop()
            if id(klass) in seen:
                continue
            seen.add(id(klass))
            for base in klass.node.bases:
                if last_name(base.value) == "LossFunctionWrapper":
                    return True
                resolved = self.project.resolve(base.value, klass.scope.parent or klass.scope)
                if isinstance(resolved, ClassInfo):
                    todo.append(resolved)
        return False

    def _registry_values(self, registry: cst.BaseExpression, scope: Scope):
        """(value, scope) of every `registry[key] = value` for a registry named by a variable:
        the item assignments in the scope that binds it, or anywhere in its module when it
        is a module-level name (a decorator or a helper filling it)."""
        if not isinstance(registry, cst.Name):
            return []
        bindings = scope.lookup(registry.value)
        if not bindings:
            return []
        home = bindings[-1].scope
        module = home.module
        found = []
        for target, value, where in module.item_assigns:
            if isinstance(target.value, cst.Name) and target.value.value == registry.value:
                if where.lookup(registry.value) is bindings:
                    found.append((value, where))
        return found

    def _items_of(self, binding: AssignBinding):
        """(value, scope) of every `name[key] = value` into the dict this binding made."""
        names = [name for name, bs in binding.scope.bindings.items() if binding in bs]
        found = []
        for target, value, where in binding.scope.module.item_assigns:
            if isinstance(target.value, cst.Name) and target.value.value in names \
                    and binding in where.lookup(target.value.value):
                found.append((value, where))
        return found

    def _registered_entities(self, expr: cst.Subscript, scope: Scope):
        """The functions and classes a registry lookup (`LOSSES[name]`) may give."""
        values = []
        base = expr.value
        if isinstance(base, cst.Name):
            for binding in scope.lookup(base.value):
                if isinstance(binding, AssignBinding) and isinstance(binding.value, cst.Dict):
                    values += [(e.value, binding.scope) for e in binding.value.elements
                               if isinstance(e, cst.DictElement)]
        values += self._registry_values(base, scope)
        entities = []
        for value, value_scope in values:
            if isinstance(value, (cst.Name, cst.Attribute)):
                resolved = self.project.resolve(value, value_scope)
                if isinstance(resolved, (FunctionInfo, ClassInfo)):
                    entities.append(resolved)
            entities += self._registrar_targets(value, value_scope)
        return entities

    def _registrar_targets(self, value: cst.BaseExpression, scope: Scope) -> list:
        """A registry value that is a parameter of a decorator (`LOSSES[name] = cls` in
        `def add(cls)`) stands for every definition that decorator registers."""
        if not isinstance(value, cst.Name):
            return []
        bindings = scope.lookup(value.value)
        if len(bindings) == 1 and isinstance(bindings[0], ParamBinding):
            return self._decorated_by(bindings[0].function)
        return []

    def _decorated_by(self, registrar: FunctionInfo) -> list:
        """The definitions a registering decorator receives: `def register(name): def add(cls):
        LOSSES[name] = cls; return cls; return add` receives every `@register(...)` target."""
        factory = registrar.scope.parent
        names = {registrar.name}
        if factory is not None and factory.kind == "function":
            outer = self._function_for(factory.node, factory.module)
            if outer is not None:
                names.add(outer.name)
        found = []
        for entity in [*self.project.functions(), *self.project.classes()]:
            for decorator in getattr(entity.node, "decorators", ()):
                expr = decorator.decorator
                callee = expr.func if isinstance(expr, cst.Call) else expr
                if last_name(callee) in names:
                    found.append(entity)
        return found

    def _calls(self, site: CallSite, function: FunctionInfo) -> bool:
        """Does this call site call `function`? Methods only through `self.m(...)` in their
        class, or `Class(...).m(...)` / `obj.m(...)` with `obj = Class(...)`: a bare method name
        (`.compile`, `.fit`) matches far too much to follow."""
        func = site.call.func
        if function.cls is None:
            return self.project.resolve(func, site.scope) is function
        if not isinstance(func, cst.Attribute):
            return False
        self_attr = self._self_attribute(func, site.scope)
        if self_attr is not None:
            return self_attr[0] is function.cls
        return self._instance_class(func.value, site.scope) is function.cls

    def _instance_class(self, receiver: cst.BaseExpression, scope: Scope) -> ClassInfo | None:
        """The scanned class `receiver` is an instance of: `Class(...)`, or a name last
        assigned `Class(...)`."""
        if isinstance(receiver, cst.Name):
            bindings = scope.lookup(receiver.value)
            receiver = bindings[-1].value if bindings and isinstance(bindings[-1], AssignBinding) else None
        if isinstance(receiver, cst.Call) and isinstance(receiver.func, (cst.Name, cst.Attribute)):
            cls = self.project.resolve(receiver.func, scope)
            return cls if isinstance(cls, ClassInfo) else None
        return None

    def _self_attribute(self, expr, scope: Scope):
        if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name)):
            return None
        function_scope = scope
        while function_scope is not None and function_scope.kind != "function":
            function_scope = function_scope.parent
        if function_scope is None:
            return None
        fn = self._function_for(function_scope.node, scope.module)
        if fn is None or fn.cls is None:
            return None
        params = fn.positional_params()
        if not params or params[0].name.value != expr.value.value:
            return None
        return fn.cls, expr.attr.value

    def _find_method(self, cls: ClassInfo, name: str) -> FunctionInfo | None:
        todo, seen = [cls], set()
        while todo:
            klass = todo.pop(0)
            if id(klass) in seen:
                continue
            seen.add(id(klass))
            if name in klass.methods:
                return klass.methods[name]
            for base in klass.node.bases:
                resolved = self.project.resolve(base.value, klass.scope.parent or klass.scope)
                if isinstance(resolved, ClassInfo):
                    todo.append(resolved)
        return None

    def _function_for(self, node, module: ModuleInfo) -> FunctionInfo | None:
        for fn in module.functions:
            if fn.node is node:
                return fn
        return None

    # -- the whole project ---------------------------------------------------------------
    def find(self) -> list[LossTarget]:
        targets: dict[int, LossTarget] = {}

        def add(fn: FunctionInfo, source: str, bound: int = 0, keywords: tuple = (),
                site: CallSite | None = None) -> None:
            if fn is None:
                return
            if not is_loss_shaped(fn, bound, tuple(keywords)) and not (
                    source in _CALLED_AS_PAIR and not bound and not keywords and accepts_pair(fn)):
                return
            key = id(fn.node)
            current = targets.get(key)
            rank = _source_rank(source)
            if current is None or rank < _source_rank(current.source):
                targets[key] = LossTarget(fn, source, bound, tuple(keywords), site)

        weak: list[tuple[FunctionInfo, str, CallSite | None]] = []
        strategy_targets: set[str] = set()
        for module in list(self.project.modules):
            for site in module.call_sites:
                self._site(site, add, weak, strategy_targets)
        for name in sorted(strategy_targets):  # `strategy.run(step)`: `def step` may be anywhere
            self.project.parse_defining(name)
        for module in list(self.project.modules):
            for target, value, scope in module.item_assigns:
                self._item_assign(target, value, scope, weak)
            for value, scope in _loss_registry_literals(module):
                weak += [(fn, "registry", None) for fn, _, _ in self.resolve(value, scope)]

        for cls in self.project.classes():
            if class_kind(self.project, cls) == "loss" and "call" in cls.methods:
                if not _overrides_dunder_call(self.project, cls):
                    add(cls.methods["call"], "loss-subclass")
            for site, fn_expr in self._wrapped_by_init(cls):
                for fn, bound, kws in self.resolve(fn_expr, site.scope):
                    add(fn, "wrapper", bound, kws, site)
        for fn in self.project.functions():
            if self._registered(fn):
                weak.append((fn, "registry", None))
        for cls in self.project.classes():
            if any(self._registers(d.decorator) for d in cls.node.decorators):
                weak += [(method, "registry", None) for method, _, _ in self._instance_losses(cls)]

        candidates = {fn.name for fn, _, _ in weak} | {
            fn.name for fn in self.project.functions()
            if isinstance(fn.node, cst.FunctionDef) and id(fn.node) not in targets
            and (has_keras_signature(fn) or _loss_object_call(fn) or _keras_signature_with_extras(fn))}
        self._collect_evidence(targets, candidates)
        for fn, source, where in weak:
            if not self._excluded(fn):
                add(fn, source, site=where)
        for fn in self.project.functions():
            if not isinstance(fn.node, cst.FunctionDef) or id(fn.node) in targets:
                continue
            extras = () if has_keras_signature(fn) or _loss_object_call(fn) else _keras_signature_with_extras(fn)
            if extras and id(fn.node) in self._helper_ids:
                continue  # its caller binds the extras: a part of that loss, reported through it
            if (extras or has_keras_signature(fn) or _loss_object_call(fn)) and self._plain_owner(fn) \
                    and not self._excluded(fn):
                # with extras, `triplet_1d(y_true, y_pred, N)`: a loss once its users bind N (a
                # partial, a lambda); analysed with the extra parameters as unknown constants
                add(fn, "signature", 0, extras)
        order = {id(fn.node): i for i, fn in enumerate(self.project.functions())}
        return sorted(targets.values(), key=lambda t: (_source_rank(t.source), order[id(t.function.node)]))

    # -- evidence that a (y_true, y_pred) function is not a loss ----------------------------
    def _collect_evidence(self, targets: dict, candidates: set[str]) -> None:
        """Functions the scan shows used otherwise than as a loss: as a metric, called by a
        loss or a loss-shaped function (a helper), by a training step or a `strategy.run`
        step, inside a `GradientTape` block, mapped per sample. Resolved through bindings and
        imports like compile sites: a function of the same name elsewhere is not concerned.
        Only what may name a weak candidate (by its last name: `candidates`) is resolved, since
        resolving may parse modules on demand."""
        if not candidates:
            return
        for expr, scope in self._metric_exprs:
            self._metric_ids |= {id(fn.node) for fn, _, _ in self.resolve(expr, scope)}
        for expr, scope in self._mapped_exprs:
            if _names_in(expr, direct=True) & candidates:
                self._not_loss_ids |= self._callee_ids(expr, scope)
        losses = {id(t.function.node): t.function for t in targets.values()}
        steps = {}
        for fn in self.project.functions():
            if has_keras_signature(fn):
                losses[id(fn.node)] = fn
            if fn.name in catalogue_ctl_methods() or id(fn.node) in self._step_ids:
                steps[id(fn.node)] = fn
        for caller, fn in [*losses.items(), *steps.items()]:
            for site in self._calls_of(fn):
                name = last_name(site.call.func) or ""
                if name not in candidates:
                    continue
                callees = self._callee_ids(site.call.func, site.scope)
                (self._not_loss_ids if caller in steps else self._helper_ids).update(callees)
                if caller in losses and id(site.call) in self._complemented(fn):
                    self._coefficient_ids.update(callees)
        for module in list(self.project.modules):
            for site in module.tape_calls:
                name = last_name(site.call.func) or ""
                if name in candidates:
                    self._not_loss_ids.update(self._callee_ids(site.call.func, site.scope))

    def _calls_of(self, fn: FunctionInfo) -> list[CallSite]:
        """The calls in the function's own body (indexed once per project)."""
        if self._calls_by_function is None:
            self._calls_by_function = {}
            for module in self.project.modules:
                for sites in module.calls_by_name.values():
                    for site in sites:
                        if site.in_function is not None:
                            self._calls_by_function.setdefault(id(site.in_function.node), []).append(site)
        return self._calls_by_function.get(id(fn.node), [])

    def _complemented(self, fn: FunctionInfo) -> set[int]:
        key = id(fn.node)
        if key not in self._complements:
            self._complements[key] = _complemented_calls(fn)
        return self._complements[key]

    def _callee_ids(self, func: cst.BaseExpression, scope: Scope) -> set[int]:
        """The scanned functions a callee expression names (`helper`, `mod.helper`,
        `self.helper`)."""
        if not isinstance(func, (cst.Name, cst.Attribute)):
            return set()
        self_attr = self._self_attribute(func, scope)
        if self_attr is not None:
            method = self._find_method(self_attr[0], self_attr[1])
            return {id(method.node)} if method is not None else set()
        resolved = self.project.resolve(func, scope)
        if isinstance(resolved, FunctionInfo):
            return {id(resolved.node)}
        if isinstance(resolved, (AssignBinding, IterBinding, ParamBinding)):
            return {id(fn.node) for fn, _, _ in self._resolve_binding(resolved, 0, 0, ())}
        return set()

    def _excluded(self, fn: FunctionInfo) -> bool:
        """Is a weak candidate (signature, custom-objects, registry) not a loss after all?
        A function compiled as a loss anywhere is already a target: these only ever remove
        weak candidates. The evidence, strongest first: the scan uses this very function as
        a metric, a helper, a training-loop function or a per-sample mapped function; its
        body computes with NumPy or scikit-learn, or turns the result into a Python number
        (so Keras could not trace it as a loss); it is named like a metric, or lives in a
        metrics/statistics module, and neither its name nor the factory that returns it
        says loss."""
        if id(fn.node) in self._metric_ids or id(fn.node) in self._not_loss_ids:
            return True
        if _computes_outside_tensorflow(self.project, fn, self._calls_of(fn)):
            return True
        if id(fn.node) in self._coefficient_ids:
            return True  # a loss takes `1 - tversky(y_true, y_pred)`: a similarity, not a loss
        module_words = {w for part in fn.module.name.split(".") for w in _words(part)}
        if id(fn.node) in self._helper_ids and not (
                _head_words(fn.name) & catalogue.LOSS_NAME_WORDS
                or module_words & catalogue.LOSS_NAME_WORDS and not fn.name.startswith("_")):
            # a part of a loss (`dsc` in `1 - dsc(y_true, y_pred)`), reported through that
            # loss; one named a loss (`dice_loss` in `bce + dice_loss`), or a public function
            # of a losses module (`losses.focal_tversky`), is a loss itself
            return True
        parts = fn.qualname.split(".")
        # The enclosing functions: the factories that return it, nearest first.
        factories = [outer for outer, after in zip(parts, parts[1:]) if after == "<locals>"][::-1]
        for factory in factories:
            head = _head_words(factory)
            if head & catalogue.LOSS_NAME_WORDS:
                return False  # `weighted_bce_loss(w)` returns its loss, whatever the inner name
            if head & catalogue.METRIC_HEAD_WORDS:
                return True  # `TripletLossAccuracy(margin)` returns a metric
        if _head_words(fn.name) & catalogue.METRIC_HEAD_WORDS and not _names_a_scoring_rule(fn.name):
            return True  # the head noun says metric: `triplet_loss_accuracy`, `bce_dice_score`
        words = _words(fn.name).union(*map(_words, factories))
        if words & catalogue.LOSS_NAME_WORDS:
            return False
        if words & catalogue.METRIC_NAME_HINTS or fn.name.lower() in catalogue.METRIC_NAMES:
            # `iou_seg`, `mae`: a metric, unless a losses module holds it (the head word did
            # not say metric: `dice_coef` in losses.py is excluded above)
            return not module_words & catalogue.LOSS_NAME_WORDS
        return bool(module_words & catalogue.METRIC_MODULE_NAMES)

    def _plain_owner(self, fn: FunctionInfo) -> bool:
        """A function, or a method of a plain class (a library of losses: `MSE(sigma).loss`,
        `Losses.dice`, a callable `Triplet.__call__`), not of a Keras layer, model or metric
        whose methods take (y_true, y_pred) for their own reasons."""
        if fn.cls is None:
            return True
        todo, seen = [fn.cls], set()
        while todo:
            cls = todo.pop()
            if id(cls) in seen:
                return True
            seen.add(id(cls))
            for base in cls.node.bases:
                if base.keyword is not None:
                    continue
                resolved = self.project.resolve(base.value, cls.scope.parent or cls.scope)
                if isinstance(resolved, ClassInfo):
                    todo.append(resolved)
                elif not isinstance(resolved, External) or resolved.qualified.split(".")[0] in catalogue.API_ROOTS:
                    return False
                # `object`, or a class of the project the scan does not hold: plain
        return True

    def _registered(self, fn: FunctionInfo) -> bool:
        return isinstance(fn.node, cst.FunctionDef) and any(self._registers(d) for d in fn.decorators())

    def _registers(self, decorator: cst.BaseExpression) -> bool:
        """A decorator that puts what it decorates into a registry looked up by name, by its
        name: `@register("dice")`, `@LOSSES.register_module()`, not metric registries nor
        `register_keras_serializable` (a signature decides those). A lookup of such a registry
        (`LOSSES[name]`) follows the decorator's body instead (`_registrar_targets`)."""
        callee = decorator.func if isinstance(decorator, cst.Call) else decorator
        name = last_name(callee)
        if name is None:
            return False
        words = _words(name)
        if "metric" in words or "metrics" in words:
            return False
        if name.startswith("register") and "serializable" not in words:
            return True
        return False

    def _item_assign(self, target: cst.Subscript, value: cst.BaseExpression, scope: Scope, weak) -> None:
        """`get_custom_objects()["focal"] = focal`: a custom-objects registration."""
        base = target.value
        if isinstance(base, cst.Call) and last_name(base.func) == "get_custom_objects":
            for fn, _, _ in self.resolve(value, scope):
                weak.append((fn, "custom-objects", None))
        elif isinstance(base, cst.Name) and _names_a_loss_registry(base.value):
            # `global_loss_list["nll"] = nll`: a table of losses the project hands to
            # `custom_objects` or looks up by name, maybe in a file not scanned
            for fn, _, _ in self.resolve(value, scope):
                weak.append((fn, "registry", None))

    def _site(self, site: CallSite, add, weak, strategy_targets: set[str]) -> None:
        call, scope = site.call, site.scope
        name = last_name(call.func)
        qualified = (self.project.qualified_name(call.func, scope)
                     if isinstance(call.func, (cst.Name, cst.Attribute)) else None)
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}

        if name == "compile" and isinstance(call.func, cst.Attribute):
            receiver = self.project.qualified_name(call.func.value, scope)
            if receiver is not None and receiver.split(".")[0] in catalogue.NOT_MODEL_COMPILE:
                return
            if qualified is not None and qualified.split(".")[0] in catalogue.NOT_MODEL_COMPILE:
                return
            loss = keywords.get("loss")
            if loss is None and len(positional) >= 2 and not isinstance(positional[1], (cst.SimpleString,)):
                loss = positional[1]
            if loss is not None:
                for fn, bound, kws in self.resolve(loss, scope):
                    add(fn, "compile", bound, kws, site)
            for key in ("metrics", "weighted_metrics"):
                if key in keywords:
                    self._metric_exprs.append((keywords[key], scope))
            return
        if name in ("map_fn", "vectorized_map", "map") and positional:
            if qualified is None or qualified in catalogue.PER_SAMPLE_MAPS:
                self._mapped_exprs.append((positional[0], scope))
            return
        if name in catalogue.STRATEGY_RUNS and positional and isinstance(call.func, cst.Attribute):
            strategy_targets |= _names_in(positional[0], direct=True)
            self._step_ids |= self._callee_ids(positional[0], scope)
            return
        if name == "LossFunctionWrapper" or (qualified in catalogue.LOSS_WRAPPERS and name != "get"):
            fn = positional[0] if positional else keywords.get("fn")
            if fn is not None:
                for target, bound, kws in self.resolve(fn, scope):
                    add(target, "wrapper", bound, kws, site)
            return
        registry = None
        if qualified in catalogue.CUSTOM_OBJECT_CALLS or name in ("load_model", "custom_object_scope",
                                                                  "CustomObjectScope"):
            registry = keywords.get("custom_objects")
            if registry is None:
                registry = next((p for p in positional if isinstance(p, cst.Dict)), None)
        elif name == "update" and isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Call) \
                and last_name(call.func.value.func) == "get_custom_objects" and positional:
            registry = positional[0]
        if registry is not None:
            for target, _bound, _ in self.resolve(registry, scope):
                weak.append((target, "custom-objects", site))


def _returns_second_parameter(fn: FunctionInfo) -> bool:
    """`lambda y_true, y_pred: y_pred`: a loss that hands Keras the model's output as it is."""
    params = fn.call_params()
    returns = _returns(fn)
    return len(params) >= 2 and bool(returns) and all(
        isinstance(r, cst.Name) and r.value == params[1].name.value for r in returns)


def _keras_signature_with_extras(fn: FunctionInfo) -> tuple[str, ...]:
    """The required parameters after `y_true, y_pred` (positional or keyword-only), or ()."""
    params = fn.call_params()
    if [p.name.value for p in params[:2]] != ["y_true", "y_pred"] or any(p.default is not None for p in params[:2]):
        return ()
    return tuple(p.name.value for p in [*params[2:], *fn.node.params.kwonly_params] if p.default is None)


def _loss_object_call(fn: FunctionInfo) -> bool:
    """`__call__(self, gt, pr)` of a plain class named as a loss (`DiceLoss`, `SumOfLosses`):
    a loss object of a library, whatever its parameters are called."""
    return (fn.name == "__call__" and fn.cls is not None and is_loss_shaped(fn)
            and bool(_head_words(fn.cls.name) & catalogue.LOSS_NAME_WORDS))


def catalogue_ctl_methods() -> frozenset[str]:
    return frozenset({"train_step", "test_step", "predict_step", "compute_loss"})


def _names_in(expr: cst.BaseExpression, direct: bool = False) -> set[str]:
    """The function names an expression mentions (a list of metrics, a dict of losses...)."""
    names: set[str] = set()
    if isinstance(expr, cst.Name):
        names.add(expr.value)
    elif isinstance(expr, cst.Attribute):
        names.add(expr.attr.value)
    elif direct:
        return names
    elif isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        for element in expr.elements:
            names |= _names_in(element.value)
    elif isinstance(expr, cst.Dict):
        for element in expr.elements:
            if isinstance(element, cst.DictElement):
                names |= _names_in(element.value)
    elif isinstance(expr, cst.Call):
        for arg in expr.args:
            names |= _names_in(arg.value, direct=True)
    return names


def _words(name: str) -> set[str]:
    """`diceCoef_v2` -> {"dice", "coef", "v2", "v"}: snake_case and camelCase words, lower-cased,
    a word with digits also without them (`f1` -> f1, f; `r2` -> r2, r)."""
    return {w for word in _tokens(name) for w in _forms(word)}


def _head_words(name: str) -> set[str]:
    """The last word, which names what the thing is (`triplet_loss_accuracy` is an accuracy),
    after words that only say it is a function (`loss_fn` is a loss, not false negatives)."""
    tokens = _tokens(name)
    while len(tokens) > 1 and tokens[-1] in catalogue.FUNCTION_SUFFIXES:
        tokens.pop()
    return _forms(tokens[-1]) if tokens else set()


def _tokens(name: str) -> list[str]:
    # `BinaryCELoss` is binary, ce, loss: a run of capitals before a capitalised word is a word
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    return [w for w in re.split(r"_+", spaced.lower()) if w]


def _forms(word: str) -> set[str]:
    return {w for w in (word, re.sub(r"\d+", "", word)) if w}


def _names_a_scoring_rule(name: str) -> bool:
    """`quantile_score`, `brier_score`: a forecaster's scoring rule, lower is better, a loss
    although its head word is "score"."""
    tokens = _tokens(name)
    return len(tokens) >= 2 and tokens[-1] == "score" and tokens[-2] in catalogue.SCORING_RULES


def _names_a_loss_registry(name: str) -> bool:
    """`LOSSES`, `global_loss_list`, `custom_losses`: a variable whose name says it holds
    losses (a word, not a head word: `loss_fns` and `loss_dict` hold losses too)."""
    return bool(_words(name) & catalogue.LOSS_REGISTRY_WORDS)


def _loss_registry_literals(module: ModuleInfo):
    """(value, scope) of each entry of a module-level dict literal bound to a loss-named
    variable (`LOSSES = {"dice": dice_loss, "focal": focal_loss}`)."""
    for name, bindings in module.scope.bindings.items():
        if not _names_a_loss_registry(name):
            continue
        for binding in bindings:
            if isinstance(binding, AssignBinding) and isinstance(binding.value, cst.Dict):
                for element in binding.value.elements:
                    if isinstance(element, cst.DictElement):
                        yield element.value, module.scope


def _source_rank(source: str) -> int:
    return SOURCES.index(source)


def _computes_outside_tensorflow(project: Project, fn: FunctionInfo, calls: list[CallSite]) -> bool:
    """NumPy on the function's inputs (`np.squeeze(y_true)`, `np.mean(...)`), scikit-learn,
    `.numpy()` / `.item()` or `float(...)` of the result: evaluation code run on arrays, which
    Keras could not trace as a loss. (NumPy on constants, `np.log(2.0)`, is fine in a loss.)"""
    inputs = {p.name.value for p in fn.call_params()[:2]}
    for site in calls:
        func = site.call.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("numpy", "item") and not site.call.args:
            return True
        resolved = project.resolve(func, site.scope) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if isinstance(resolved, External) and resolved.assumed is None:
            name = resolved.qualified
            if name.startswith("sklearn."):
                return True
            if name.startswith("numpy.") and (name in catalogue.NUMPY_REDUCTIONS or _mentions(site.call, inputs)):
                return True
    for value in _returns(fn):
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in ("float", "int"):
            return True
    return False


def _mentions(node: cst.CSTNode, names: set[str]) -> bool:
    if isinstance(node, cst.Name):
        return node.value in names
    return any(_mentions(child, names) for child in children(node))


def _complemented_calls(fn: FunctionInfo) -> set[int]:
    """id() of the calls whose result the function takes one minus (`1 - dice(y_true, y_pred)`,
    `1.0 - self.iou(...)`): what such a call returns is a similarity, the loss is its complement."""
    found: set[int] = set()
    todo = [fn.node]
    while todo:
        node = todo.pop()
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract) \
                and isinstance(node.left, (cst.Integer, cst.Float)) and node.left.value in ("1", "1.0", "1.") \
                and isinstance(node.right, cst.Call):
            found.add(id(node.right))
        todo.extend(children(node))
    return found

