"""The pages' catalogue: every error code the code base can answer is said in both languages,
and the two languages have the same keys and the same placeholders."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from displays.messages import MESSAGES
from engine.model.reservations import CLOSED, REFUSALS

ROOT = Path(__file__).resolve().parents[2]
# The packages an HTTP or WebSocket answer can come from (loadtest is a client).
SERVING = ("engine", "displays", "ticketing", "notifier", "clinic_sim", "clinicq")
# Lua refuses with fail('code', ...) or answers {error = 'code', ...}.
LUA_CODE = re.compile(r"""\bfail\(\s*'([a-z_]+)'|\berror\s*=\s*'([a-z_]+)'""")
ERROR_CALLS = {"DecisionError"}  # DecisionError(code, message): the code comes first
PLURAL_FORMS = {"zero", "one", "two", "few", "many", "other"}  # CLDR categories


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _dict_values(tree: ast.AST, name: str) -> set[str]:
    """The string values of a dict literal assigned to ``name`` anywhere in the module."""
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            found |= {s for v in node.value.values if (s := _str(v))}
    return found


def _code_expression(tree: ast.AST, value: ast.AST) -> set[str]:
    """The codes an expression in a ``"code": ...`` slot can take: a literal, or
    ``table.get(key, "default")`` over a dict literal named ``table``."""
    if (s := _str(value)) is not None:
        return {s}
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "get"
        and isinstance(value.func.value, ast.Name)
    ):
        default = {s for a in value.args[1:] if (s := _str(a))}
        return default | _dict_values(tree, value.func.value.id)
    return set()


def python_codes(path: Path) -> set[str]:
    """Codes declared in one module: ``code = "..."`` in a class body, ``code="..."`` passed to
    any call, ``DecisionError("...", ...)``, and ``{"code": ...}`` in a literal body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "code" for t in item.targets
                ):
                    found |= {s} if (s := _str(item.value)) else set()
        elif isinstance(node, ast.Call):
            found |= {s for k in node.keywords if k.arg == "code" and (s := _str(k.value))}
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name in ERROR_CALLS and node.args and (s := _str(node.args[0])):
                found.add(s)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if _str(key) == "code":
                    found |= _code_expression(tree, value)
    return found


def answerable_codes() -> set[str]:
    """Every error code the code base declares, collected from its source."""
    codes: set[str] = set()
    for package in SERVING:
        for path in (ROOT / package).rglob("*.py"):
            codes |= python_codes(path)
    for path in (ROOT / "engine" / "lua").glob("*.lua"):
        for a, b in LUA_CODE.findall(path.read_text(encoding="utf-8")):
            codes.add(a or b)
    # The reservation table's refusals are data, generated into the Lua too.
    codes |= {code for moves in REFUSALS.values() for code, _ in moves.values()}
    codes.add(CLOSED[0])
    return codes


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_collector_finds_codes_of_every_kind() -> None:
    """The collector sees class codes, code= arguments, model refusals, Lua, tables and dicts."""
    codes = answerable_codes()
    expected = {
        "unauthorized",  # engine.errors class
        "invalid_phone",  # notifier.errors class
        "clinic_not_found",  # code= argument
        "same_service",  # DecisionError in the pure model
        "cabinet_occupied",  # Lua and model
        "idempotency_key_reused",  # a Lua answer
        "not_held",  # the reservation table
        "route_not_found",  # the HTTP edge's map
        "http_error",  # ... and its default
        "print_in_progress",  # ticketing's API
        "too_many_sockets",  # the push server
    }
    assert expected <= codes, expected - codes


def test_every_error_code_is_said_in_russian_and_english() -> None:
    """A page never shows the server's English for a code it can be answered with."""
    codes = answerable_codes()
    for lang, messages in MESSAGES.items():
        missing = sorted(c for c in codes if not messages.get(f"err_{c}", "").strip())
        assert not missing, f"{lang}: no text for {missing}"


def _stem(key: str, messages: dict[str, str]) -> str:
    """A plural form's key without its CLDR category (``city_slot_days_few`` ->
    ``city_slot_days``); any other key as it is."""
    stem, _, form = key.rpartition("_")
    return stem if form in PLURAL_FORMS and f"{stem}_other" in messages else key


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    """A translator cannot forget a key, or a {placeholder} the page fills in; plural forms
    count as one key, since each language has its own set of them."""
    ru, en = MESSAGES["ru"], MESSAGES["en"]
    stems = {lang: {_stem(k, m) for k in m} for lang, m in MESSAGES.items()}
    assert sorted(stems["ru"] ^ stems["en"]) == []

    def names(messages: dict[str, str], stem: str) -> set[str]:
        return placeholders(messages.get(stem) or messages[f"{stem}_other"])

    differ = {s: (names(ru, s), names(en, s)) for s in stems["ru"]}
    assert {s: v for s, v in differ.items() if v[0] != v[1]} == {}


def test_plural_forms_are_complete() -> None:
    """A message with plural forms has every form its language uses (CLDR, through babel: ru
    one/few/many/other, en one/other), each with the same placeholders, so Intl.PluralRules
    in the page never picks a missing form."""
    from babel import Locale

    for lang, messages in MESSAGES.items():
        forms = set(Locale.parse(lang).plural_form.tags) | {"other"}
        stems = {_stem(k, messages) for k in messages} - set(messages)
        assert stems, f"{lang}: no plural messages found"
        for stem in stems:
            missing = sorted(f for f in forms if f"{stem}_{f}" not in messages)
            assert not missing, f"{lang}: {stem} lacks {missing}"
            other = placeholders(messages[f"{stem}_other"])
            assert all(placeholders(messages[f"{stem}_{f}"]) == other for f in forms), stem
