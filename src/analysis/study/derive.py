"""Derived variables declared in study.yaml, evaluated safely.

A study declares derivations as readable expressions over its columns and the clinical
index functions of :mod:`analysis.indices`::

    derive:
      cdai_w0: cdai(stools_w0, pain_w0, wellbeing_w0, complications_w0, antidiarrheal_w0,
                    mass_w0, hematocrit_w0, sex_mf, height_cm, weight_w0)
      response: where(disease == "CD", cdai_response(cdai_w0, cdai_w14),
                      mayo_response(mayo_w0, mayo_w14, rb_w0, rb_w14))

Expressions are parsed with :mod:`ast` and only names, numbers, strings, arithmetic,
comparisons, ``&``/``|``/``~`` (or ``and``/``or``/``not``) and calls of whitelisted
functions are allowed: nothing else of Python is reachable. A call may pass only the
documented keyword options of its function (NumPy's ``out=``, ``where=``, ``dtype=`` ...
are refused), and evaluation is bounded: an expression is at most
:data:`MAX_EXPRESSION_CHARS` characters, :data:`MAX_NODES` syntax nodes and
:data:`MAX_DEPTH` levels deep, integer literals at most :data:`MAX_INT_LITERAL`, exponents at
most :data:`MAX_EXPONENT` in size, so that ``10**10**10`` fails at once instead of spinning.
The same evaluator runs the derive rules stored in a saved model's ``model.json``.
"""

from __future__ import annotations

import ast
import inspect
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, IndexInputError, StudyConfigError, shorten

MAX_EXPRESSION_CHARS = 4000   # characters of one expression
MAX_NODES = 1000              # syntax-tree nodes of one expression
MAX_DEPTH = 40                # nesting depth of the syntax tree
MAX_INT_LITERAL = 10**15      # largest integer literal (ids and counts stay far below)
MAX_EXPONENT = 100            # largest |exponent| of ``**``
MAX_POWER_BITS = 4096         # largest exact integer a ``**`` may build (base bits x exponent)
MAX_SEQUENCE = 10_000         # longest list or string an expression may build
# call arguments of the functions that are not plain Python functions (NumPy ufuncs, pandas)
# or that are bound to a context: the keyword names each one documents (none for ufuncs)
DOCUMENTED_KEYWORDS: dict[str, tuple[str, ...]] = {
    "log": (), "log1p": (), "exp": (), "sqrt": (), "abs": (), "isna": (), "notna": (),
    "suffixed": (), "visit": ("name", "time"), "baseline": ("values",), "patient": ("name",),
}


def _as_float(x: Any) -> Any:
    """Numbers, booleans and nullable arrays as float arrays with NaN for missing."""
    if isinstance(x, pd.Series):
        if x.dtype == object:
            return x
        return x.astype("Float64").to_numpy(dtype=float, na_value=np.nan) if x.dtype != float else x.to_numpy()
    if isinstance(x, np.ndarray) and x.dtype == object:
        return pd.Series(x).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return x


def where(condition, if_true, if_false):
    """Row-wise choice; a missing condition gives a missing result.

    Examples
    --------
    >>> where(pd.Series([True, False]), 1, 2).tolist()
    [1.0, 2.0]
    """
    cond = pd.Series(condition)
    missing = cond.isna().to_numpy()
    chosen = np.where(cond.fillna(False).astype(bool).to_numpy(), _as_float(if_true), _as_float(if_false))
    out = pd.Series(chosen, index=cond.index).astype(float)
    out[missing] = np.nan
    return out


def coalesce(*values):
    """First non-missing value, row-wise."""
    result = pd.Series(values[0], dtype=float) if not isinstance(values[0], pd.Series) else values[0].astype(float)
    for value in values[1:]:
        result = result.fillna(pd.Series(_as_float(value), index=result.index))
    return result


def percent_change(baseline, followup):
    """Relative change from baseline in percent (negative = decrease)."""
    b = np.asarray(_as_float(baseline), dtype=float)
    f = np.asarray(_as_float(followup), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(np.where(b != 0, 100.0 * (f - b) / b, np.nan))


def stack(*columns):
    """Columns side by side as an (n, k) table, e.g. the 5 segment scores of SES-CD.

    Examples
    --------
    >>> stack(pd.Series([1, 2]), pd.Series([3, 4])).shape
    (2, 2)
    """
    return pd.concat([c if isinstance(c, pd.Series) else pd.Series(c) for c in columns],
                     axis=1, ignore_index=True)


def table(**columns):
    """Named columns as a table, e.g. SLEDAI-2K descriptors for ``sledai_2k``.

    Examples
    --------
    >>> table(fever=pd.Series([1, 0]), rash=pd.Series([0, 0])).columns.tolist()
    ['fever', 'rash']
    """
    return pd.DataFrame(dict(columns))


HELPERS: dict[str, Callable] = {
    "stack": stack,
    "table": table,
    "where": where,
    "coalesce": coalesce,
    "percent_change": percent_change,
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "isna": pd.isna,
    "notna": pd.notna,
}

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.Mod: operator.mod,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def available_functions() -> dict[str, Callable]:
    """Every function an expression may call: index functions and the helpers above.

    ``suffixed("_w0")`` is also available: the table of every column ending in ``_w0``
    with the suffix removed (e.g. the 24 SLEDAI-2K descriptors of one visit).
    """
    from analysis.indices import INDEX_FUNCTIONS

    return {**INDEX_FUNCTIONS, **HELPERS, "suffixed": None}


def allowed_keywords(name: str, function: Callable | None) -> tuple[str, ...] | None:
    """Keyword arguments a derive expression may pass to ``name``; ``None`` means any name.

    Plain Python functions (the index functions and helpers) allow their named parameters;
    a function taking ``**columns`` (``table``) allows any column name; NumPy ufuncs and
    pandas functions allow none, so ``sqrt(age, out=height_cm)`` cannot write into a column.

    Examples
    --------
    >>> allowed_keywords("sqrt", np.sqrt)
    ()
    >>> allowed_keywords("where", where)
    ('condition', 'if_true', 'if_false')
    """
    if name in DOCUMENTED_KEYWORDS:
        return DOCUMENTED_KEYWORDS[name]
    if function is None or not inspect.isfunction(function):
        return ()
    params = inspect.signature(function).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _keyword_problem(name: str, function: Callable | None, keywords) -> str | None:
    allowed = allowed_keywords(name, function)
    for kw in keywords:
        if kw.arg is None:
            return f"{name}(): '**' argument unpacking is not allowed"
        if allowed is not None and kw.arg not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            return (f"{name}() takes no keyword argument {shorten(kw.arg)!r} "
                    f"(documented keyword options: {known})")
    return None


def _depth(node: ast.AST) -> int:
    deepest, stack_ = 0, [(node, 1)]
    while stack_:
        current, level = stack_.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        stack_.extend((child, level + 1) for child in ast.iter_child_nodes(current))
    return deepest


_ALLOWED_NODES = (ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Name, ast.Load, ast.BinOp,
                  ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.keyword, ast.unaryop, ast.boolop,
                  ast.In, ast.NotIn)


def _node_problem(node: ast.AST, functions: Mapping[str, Callable]) -> str | None:
    if isinstance(node, ast.operator) and type(node) not in _BINOPS:
        return f"operator {type(node).__name__} is not allowed"
    if isinstance(node, ast.cmpop) and type(node) not in _CMPOPS and not isinstance(node, ast.In | ast.NotIn):
        return f"comparison {type(node).__name__} is not allowed"
    if not isinstance(node, _ALLOWED_NODES + (ast.operator, ast.cmpop)):
        return f"'{shorten(ast.unparse(node))}' is not allowed in an expression"
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            return f"only plain function calls are allowed ('{shorten(ast.unparse(node.func))}')"
        name = node.func.id
        if name not in functions:
            return f"unknown function {shorten(name)!r} (available: {', '.join(sorted(functions))})"
        return _keyword_problem(name, functions.get(name), node.keywords)
    return _literal_problem(node)


def _literal_problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_LITERAL:
            return f"integer literal {shorten(value, 20)} is too large (at most {MAX_INT_LITERAL:.0e})"
        if isinstance(value, float) and not np.isfinite(value):
            return f"number literal {shorten(ast.unparse(node), 20)} is not finite"
        if isinstance(value, str) and len(value) > MAX_SEQUENCE:
            return f"string literal of {len(value)} characters is too long (at most {MAX_SEQUENCE})"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
        if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(node.right)):
            return f"a power inside an exponent ('{shorten(ast.unparse(node))}') is not allowed"
        if (isinstance(exponent, ast.Constant) and isinstance(exponent.value, int | float)
                and abs(exponent.value) > MAX_EXPONENT):
            return f"exponent in '{shorten(ast.unparse(node))}' is too large (|exponent| <= {MAX_EXPONENT})"
    return None


def check_expression(expression: str, where_: str = "derive",
                     functions: Mapping[str, Callable] | None = None) -> ast.Expression:
    """Parse ``expression`` and check its size, literals and call keywords before any evaluation.

    Only names, constants, lists, arithmetic, comparisons, boolean operators and calls of
    ``functions`` (default: :func:`available_functions`; ``visit``, ``baseline``, ``patient``
    are always known) are allowed, each call with its documented keyword options only.

    Raises
    ------
    StudyConfigError
        Naming ``where_`` (e.g. ``derive.bmi``) and the rule broken.

    Examples
    --------
    >>> check_expression("sqrt(age, out=height)", "derive.x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.errors.StudyConfigError: derive.x: sqrt() takes no keyword argument 'out' ...
    >>> check_expression("10 ** 10 ** 10", "derive.y")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.errors.StudyConfigError: derive.y: a power inside an exponent ...
    """
    if not isinstance(expression, str):
        raise StudyConfigError(f"{where_}: the expression must be text, got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise StudyConfigError(f"{where_}: expression of {len(expression)} characters is too long "
                               f"(at most {MAX_EXPRESSION_CHARS})")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise StudyConfigError(f"{where_}: cannot parse {shorten_expression(expression)!r}: {exc.msg}") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise StudyConfigError(f"{where_}: cannot parse the expression: "
                               f"{type(exc).__name__} (too deeply nested or invalid)") from exc
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise StudyConfigError(f"{where_}: expression has {len(nodes)} syntax nodes (at most {MAX_NODES})")
    if _depth(tree) > MAX_DEPTH:
        raise StudyConfigError(f"{where_}: expression is nested more than {MAX_DEPTH} levels deep")
    if functions is None:
        functions = {"visit": None, "baseline": None, "patient": None, **available_functions()}
    for node in nodes:
        problem = _node_problem(node, functions)
        if problem:
            raise StudyConfigError(f"{where_}: {problem}")
    return tree


def shorten_expression(expression: str) -> str:
    """An expression on one line, capped for error messages.

    Examples
    --------
    >>> shorten_expression("a  +   b")
    'a + b'
    """
    return shorten(" ".join(str(expression).split()))


def _check_power(base, exponent, where_: str) -> None:
    try:
        numbers = np.atleast_1d(np.asarray(_as_float(exponent), dtype=float))
    except (TypeError, ValueError):
        return  # not numbers: the operator itself will fail with a clear TypeError
    finite = numbers[np.isfinite(numbers)]
    if finite.size and np.abs(finite).max() > MAX_EXPONENT:
        raise StudyConfigError(f"{where_}: exponent {shorten(np.abs(finite).max(), 30)} is too large "
                               f"(|exponent| <= {MAX_EXPONENT})")
    if isinstance(base, int) and isinstance(exponent, int) and not isinstance(base, bool):
        if abs(base).bit_length() * abs(exponent) > MAX_POWER_BITS:
            raise StudyConfigError(f"{where_}: {shorten(base, 20)} ** {exponent} is too large a number")


def _check_sequence(op, left, right, where_: str) -> None:
    sequences = (str, list, tuple)
    if op is operator.mul and (isinstance(left, sequences) or isinstance(right, sequences)):
        raise StudyConfigError(f"{where_}: repeating a string or list with '*' is not allowed")
    if op is operator.add and isinstance(left, sequences) and isinstance(right, sequences):
        if len(left) + len(right) > MAX_SEQUENCE:
            raise StudyConfigError(f"{where_}: a string or list longer than {MAX_SEQUENCE} is not allowed")


def _to_bool(x):
    return x.astype("boolean") if isinstance(x, pd.Series) else np.asarray(x, dtype=bool)


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, functions: Mapping[str, Callable], where_: str,
                 root: pd.DataFrame | None = None):
        self.frame = frame
        self.functions = functions
        self.where = where_
        self.root = frame if root is None else root  # the whole table (where() evaluates subsets)

    def fail(self, message: str):
        raise StudyConfigError(f"{self.where}: {message}")

    def visit(self, node: ast.AST):
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            self.fail(f"'{shorten(ast.unparse(node))}' is not allowed in an expression")
        return method(node)

    def visit_Expression(self, node):
        return self.visit(node.body)

    def visit_Constant(self, node):
        if isinstance(node.value, int | float | str | bool) or node.value is None:
            return node.value
        self.fail(f"constant {shorten(repr(node.value))} is not allowed")

    def visit_List(self, node):
        items = [self.visit(e) for e in node.elts]
        if any(isinstance(i, pd.Series) for i in items):
            # [a, b, c] of columns is a table with one column per element (e.g. segments)
            return stack(*[i if isinstance(i, pd.Series) else pd.Series(i, index=self.frame.index)
                           for i in items])
        return items

    def visit_Tuple(self, node):
        return tuple(self.visit(e) for e in node.elts)

    def visit_Name(self, node):
        if node.id in self.frame.columns:
            return self.frame[node.id]
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        self.fail(f"unknown column {shorten(node.id)!r}")

    def visit_BinOp(self, node):
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.fail(f"operator in '{shorten(ast.unparse(node))}' is not allowed")
        left, right = self.visit(node.left), self.visit(node.right)
        if op in (operator.and_, operator.or_):
            return op(_to_bool(left), _to_bool(right))
        if op is operator.pow:
            _check_power(left, right, self.where)
        _check_sequence(op, left, right, self.where)
        return op(left, right)

    def visit_UnaryOp(self, node):
        value = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
        if isinstance(node.op, ast.Not | ast.Invert):
            return ~_to_bool(value)
        self.fail(f"'{shorten(ast.unparse(node))}' is not allowed")

    def visit_BoolOp(self, node):
        values = [_to_bool(self.visit(v)) for v in node.values]
        op = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        result = values[0]
        for value in values[1:]:
            result = op(result, value)
        return result

    def visit_Compare(self, node):
        left = self.visit(node.left)
        result = None
        for op_node, comparator in zip(node.ops, node.comparators, strict=True):
            op = _CMPOPS.get(type(op_node))
            right = self.visit(comparator)
            if isinstance(op_node, ast.In | ast.NotIn) and isinstance(left, pd.Series):
                part = left.isin(list(right))
                part = ~part if isinstance(op_node, ast.NotIn) else part
            elif op is None:
                self.fail(f"comparison in '{shorten(ast.unparse(node))}' is not allowed")
            else:
                part = op(left, right)
                if isinstance(left, pd.Series):
                    part = part.astype("boolean").mask(left.isna())
            result = part if result is None else (result & part)
            left = right
        return result

    def lazy_where(self, node):
        """``where(cond, a, b)`` evaluating each branch only on its own rows.

        A disease-specific rule (CDAI for Crohn's rows, Mayo for colitis rows) then never
        feeds one disease's values to the other disease's index.
        """
        cond = pd.Series(self.visit(node.args[0]), index=self.frame.index)
        known = cond.notna().to_numpy()
        chosen = cond.fillna(False).astype(bool).to_numpy() & known
        out = pd.Series(np.nan, index=self.frame.index, dtype=float)
        for mask, branch in ((chosen, node.args[1]), (~chosen & known, node.args[2])):
            if mask.any():
                sub = _Evaluator(self.frame.loc[mask], self.functions, self.where, self.root)
                value = sub.visit(branch)
                if isinstance(value, pd.Series):
                    value = value.reindex(self.frame.index[mask])
                out.loc[mask] = np.asarray(_as_float(value), dtype=float) if not np.isscalar(value) else value
        return out

    def suffixed(self, node):
        """``suffixed("_w0")``: every column ending in ``_w0``, named without the suffix."""
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
            self.fail('suffixed() takes one string, e.g. suffixed("_w0")')
        suffix = node.args[0].value
        cols = [c for c in self.frame.columns if str(c).endswith(suffix) and len(str(c)) > len(suffix)]
        if not cols:
            self.fail(f"suffixed({suffix!r}): no column ends in {suffix!r}")
        return self.frame[cols].rename(columns=lambda c: str(c)[: -len(suffix)])

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name):
            self.fail(f"only plain function calls are allowed ('{shorten(ast.unparse(node.func))}')")
        name = node.func.id
        if name == "suffixed":
            return self.suffixed(node)
        if name == "where" and len(node.args) == 3 and not node.keywords:
            return self.lazy_where(node)
        if name not in self.functions or self.functions[name] is None:
            known = ", ".join(sorted(self.functions))
            self.fail(f"unknown function {name!r} (available: {known})")
        function = self.functions[name]
        problem = _keyword_problem(name, function, node.keywords)
        if problem:
            self.fail(problem)
        if getattr(function, "whole_table", False) and len(self.frame) != len(self.root):
            # baseline()/visit()/patient() look across rows: evaluate them on the whole
            # table, then keep this subset's rows
            whole = _Evaluator(self.root, self.functions, self.where).visit(node)
            return pd.Series(whole, index=self.root.index).loc[self.frame.index]
        args = [self.visit(a) for a in node.args]
        kwargs = {kw.arg: self.visit(kw.value) for kw in node.keywords}
        try:
            result = function(*args, **kwargs)
        except TypeError as exc:
            self.fail(f"{name}(): {exc}")
        except IndexInputError as exc:
            # impossible values in the data (e.g. TJC28 > 28): a data error naming the rule
            from analysis.errors import Violation

            raise DataValidationError([Violation(self.where.removeprefix("derive."), f"{name}(): {exc}")]) from exc
        if isinstance(result, np.ndarray):
            result = pd.Series(result, index=self.frame.index)
        return result


def parse_expression(expression: str, where_: str = "derive") -> ast.Expression:
    """Parse an expression, turning syntax errors and broken limits into a :class:`StudyConfigError`.

    See :func:`check_expression` for the limits.

    Examples
    --------
    >>> type(parse_expression("a + 1")).__name__
    'Expression'
    """
    return check_expression(expression, where_)


def evaluate(expression: str, frame: pd.DataFrame, *, name: str = "expression",
             functions: Mapping[str, Callable] | None = None) -> pd.Series:
    """Evaluate one derivation over ``frame`` and return a Series aligned to it.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, None]})
    >>> evaluate("a + b", df).tolist()[0]
    4.0
    """
    where_ = f"derive.{name}"
    functions = functions if functions is not None else available_functions()
    tree = check_expression(expression, where_, functions)
    evaluator = _Evaluator(frame, functions, where_)
    result = evaluator.visit(tree)
    if isinstance(result, pd.DataFrame) or (isinstance(result, np.ndarray) and result.ndim > 1):
        raise StudyConfigError(f"{where_}: the expression gives a table of {np.shape(result)[1]} columns, "
                               "not one value per row")
    if isinstance(result, list | tuple | dict):
        raise StudyConfigError(f"{where_}: the expression gives a {type(result).__name__}, "
                               "not one value per row")
    if np.isscalar(result) or result is None:
        result = pd.Series([result] * len(frame), index=frame.index)
    result = pd.Series(result, index=frame.index) if not isinstance(result, pd.Series) else result
    if result.dtype == "boolean" or result.dtype == bool:
        result = result.astype("Float64").astype(float)
    elif str(result.dtype) in ("Float64", "Int64"):
        result = result.astype(float)
    return result.set_axis(frame.index)


def derive_columns(frame: pd.DataFrame, derivations: Mapping[str, str],
                   extra_functions: Mapping[str, Callable] | None = None) -> pd.DataFrame:
    """Apply derivations in order (later ones may use earlier ones); return a new frame.

    ``extra_functions`` adds context-bound functions, e.g. ``visit`` (a visit's value for
    each patient) in the cohort and ``baseline`` (the first visit's value) in visit tables.
    """
    out = frame.copy()
    functions = {**available_functions(), **(extra_functions or {})}
    for name, expression in derivations.items():
        out[name] = evaluate(expression, out, name=name, functions=functions)
    return out


def called_functions(expression: str) -> list[tuple[str, dict[str, Any]]]:
    """The functions an expression calls, each with its effective keyword options.

    Used to echo into the report which variant and thresholds a derivation used.
    """
    tree = parse_expression(expression)
    functions = {**available_functions(), "visit": None, "baseline": None, "patient": None}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
            fn = functions[node.func.id]
            options: dict[str, Any] = {}
            if fn is None:
                found.append((node.func.id, options))
                continue
            try:
                for pname, param in inspect.signature(fn).parameters.items():
                    if param.kind == param.KEYWORD_ONLY and param.default is not param.empty:
                        options[pname] = param.default
            except (TypeError, ValueError):
                pass
            for kw in node.keywords:
                options[kw.arg] = ast.literal_eval(kw.value) if isinstance(kw.value, ast.Constant) else ast.unparse(kw.value)
            found.append((node.func.id, options))
    return found


def derivation_table(derivations: Mapping[str, str], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Tidy description of derivations: ``variable, label, expression, functions, options``.

    Examples
    --------
    >>> derivation_table({"x2": "x * 2"}).loc[0, "expression"]
    'x * 2'
    """
    rows = []
    for name, expression in derivations.items():
        calls = called_functions(expression)
        rows.append({
            "variable": name,
            "label": (labels or {}).get(name, name),
            "expression": " ".join(expression.split()),
            "functions": ", ".join(dict.fromkeys(fn for fn, _ in calls)),
            "options": "; ".join(
                f"{fn}: " + ", ".join(f"{k}={v}" for k, v in opts.items()) for fn, opts in calls if opts
            ),
        })
    return pd.DataFrame(rows, columns=["variable", "label", "expression", "functions", "options"])


def visit_lookup(visits: pd.DataFrame, id_col: str, time_col: str, ids: pd.Series) -> Callable:
    """``visit(name, time)``: each patient's value of visit variable ``name`` at ``time``.

    Examples
    --------
    >>> v = pd.DataFrame({"id": ["a", "a", "b"], "week": [0, 12, 0], "cdai": [300.0, 120.0, 280.0]})
    >>> visit_lookup(v, "id", "week", pd.Series(["a", "b"]))("cdai", 12).tolist()
    [120.0, nan]
    """

    def visit(name: str, time):
        if name not in visits.columns:
            raise StudyConfigError(f"visit({name!r}, {time!r}): no visit variable {name!r}")
        at = visits.loc[visits[time_col] == time, [id_col, name]]
        if at.empty:
            raise StudyConfigError(f"visit({name!r}, {time!r}): no visits at {time_col} = {time!r}")
        return pd.Series(ids.map(at.set_index(id_col)[name]).to_numpy(), index=ids.index)

    visit.whole_table = True
    return visit


def baseline_lookup(visits: pd.DataFrame, id_col: str, time_col: str, first_time) -> Callable:
    """``baseline(x)``: for each visit row, the patient's value of ``x`` at the first visit."""
    ids = visits[id_col]
    at_first = (visits[time_col] == first_time).to_numpy()

    def baseline(values):
        values = pd.Series(values, index=visits.index)
        first = pd.Series(values[at_first].to_numpy(), index=ids[at_first].to_numpy())
        return pd.Series(ids.map(first).to_numpy(), index=visits.index)

    baseline.whole_table = True
    return baseline


def patient_lookup(visits: pd.DataFrame, id_col: str, cohort: pd.DataFrame) -> Callable:
    """``patient("sex")``: for each visit row, the patient's value of a cohort column."""

    def patient(name: str):
        if name not in cohort.columns:
            raise StudyConfigError(f"patient({name!r}): no column {name!r} in the cohort table")
        values = cohort.set_index(id_col)[name]
        return pd.Series(visits[id_col].map(values).to_numpy(), index=visits.index)

    patient.whole_table = True
    return patient
