"""Every `code` the service can answer is a member of `ErrorCode`, the enum the OpenAPI
document publishes as `Problem.code`.

Two nets: the source is scanned for every place a code is written (a `code=` argument, a
class's `code`, the code argument of `problem_response`), and the `client` fixture checks the
code of every problem+json answer any test receives (tests/conftest.py).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

from app.config import ROOT_DIR
from app.errors import ErrorCode, problem_response

APP_DIR = ROOT_DIR / "app"


def _string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _codes_written(tree: ast.AST) -> Iterator[tuple[int, str | None, str]]:
    """(line, literal or None, how it is written) for every code in one module. `None` is a
    value that is neither a string nor an `ErrorCode` member: the scan cannot vouch for it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name is None and isinstance(node.func, ast.Attribute):
                name = node.func.attr
            values = [kw.value for kw in node.keywords if kw.arg == "code"]
            if name == problem_response.__name__ and len(node.args) >= 2:
                values.append(node.args[1])
            for value in values:
                yield from _classify(value, f"{name}(code=...)")
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                yield from _class_codes(statement)


def _class_codes(statement: ast.stmt) -> Iterator[tuple[int, str | None, str]]:
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Name) and target.id == "code":
                yield from _classify(statement.value, "class code")
            if (
                isinstance(target, ast.Tuple)
                and isinstance(statement.value, ast.Tuple)
                and len(target.elts) == len(statement.value.elts)
            ):
                for element, value in zip(target.elts, statement.value.elts, strict=True):
                    if isinstance(element, ast.Name) and element.id == "code":
                        yield from _classify(value, "class code")
    elif (
        isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id == "code"
        and statement.value is not None
        # A field typed as the enum (the Problem model) is checked by its type.
        and ast.unparse(statement.annotation) != ErrorCode.__name__
    ):
        yield from _classify(statement.value, "class code")


def _classify(value: ast.expr, how: str) -> Iterator[tuple[int, str | None, str]]:
    literal = _string(value)
    if literal is not None:
        yield value.lineno, literal, how
    elif (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id == ErrorCode.__name__
    ):
        yield value.lineno, ErrorCode[value.attr].value, how
    elif (isinstance(value, ast.Name) and value.id == "code") or (
        isinstance(value, ast.Attribute) and value.attr == "code"
    ):
        # Passed through from a parameter, a variable or an error's `code`, each checked where
        # its value is written.
        return
    else:
        yield value.lineno, None, f"{how}: {ast.unparse(value)}"


def _scan(path: Path) -> list[tuple[str, int, str | None, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = str(path.relative_to(ROOT_DIR))
    return [(relative, line, literal, how) for line, literal, how in _codes_written(tree)]


def test_every_code_in_the_source_is_an_error_code() -> None:
    known = {member.value for member in ErrorCode}
    found = [hit for path in sorted(APP_DIR.rglob("*.py")) for hit in _scan(path)]
    # The scan must see the codes written as literals today, or it checks nothing.
    literals = {literal for _, _, literal, _ in found if literal is not None}
    assert {"last_admin", "website_exists", "not_found", "not_ready"} <= literals
    unknown = [hit for hit in found if hit[2] not in known]
    assert not unknown, f"codes that are not ErrorCode members: {unknown}"


def test_the_scan_catches_a_code_outside_the_enum(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text(
        "class Gone(AppError):\n"
        "    status, code = 410, 'gone_for_good'\n"
        "raise Conflict('x', code='brand_new_code')\n"
        "problem_response(418, 'teapot', 'short and stout')\n"
        "problem_response(400, compute_code(), 'x')\n"
    )
    found = {
        (literal, how.split(":")[0])
        for _, literal, how in _codes_written(ast.parse(module.read_text()))
    }
    assert ("gone_for_good", "class code") in found
    assert ("brand_new_code", "Conflict(code=...)") in found
    assert ("teapot", "problem_response(code=...)") in found
    assert (None, "problem_response(code=...)") in found


def test_features_raise_named_errors_not_inline_codes() -> None:
    """A code and its text live on a named error class (`app/<feature>/errors.py`), so changing
    either happens in one place; only the error machinery itself passes `code=` along. Answers
    written outside the exception handlers (the body-size middleware, readiness) render with
    `problem_response` directly; the scan above checks their codes."""
    inline = [
        (relative, line, how)
        for path in sorted(APP_DIR.rglob("*.py"))
        if path != APP_DIR / "errors.py"
        for relative, line, _, how in _scan(path)
        if "(code=...)" in how and not how.startswith(problem_response.__name__)
    ]
    assert not inline, f"inline codes; raise a named error instead: {inline}"
