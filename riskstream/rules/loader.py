"""Rule files: YAML -> a compiled `RuleSet`, with every problem located in the file.

The file is composed with PyYAML (``SafeLoader``) to keep each node's position; expression
offsets are mapped back to file line and column, for plain, quoted and block (``|``, ``>``)
scalars alike. All problems of a file are collected, sorted and capped, then raised as one
`RuleError`.

File shape (``version`` and ``rules`` are required, the rest optional)::

    version: 1
    description: card-fraud rules           # optional, not hashed
    lists:                                  # named lists, used as `x in name`
      high_risk_countries: [NG, RU, KP]     # items as written -> strings
      small_amounts: [1, 2, 5]              # all unquoted numbers -> numbers
      bad_merchants: {file: lists/bad_merchants.txt}          # one item a line, '#' comments
      bad_mccs: {file: lists/mccs.yaml, type: string}         # a YAML list
    allow:                                  # rows matching an allow list are allowed
      customers: [c-vip-1]                  # customers | cards | devices | merchants | payees | ips
    deny:                                   # rows matching a deny list are blocked (deny wins)
      cards: {file: lists/stolen_cards.txt}
      ips: blocked_ips                      # or the name of a named list
    rules:
      - id: big_amount
        when: amount > 1000
        action: review                      # allow | review | challenge | block | tag | notify
        score: 0.6                          # optional, in [0, 1]
        mode: active                        # optional: active (default) | shadow
        description: ...                    # optional
        tags: [velocity]                    # optional; required for `tag`

List file paths are relative to the rule file's folder. A list is of numbers when every item
is an unquoted number, otherwise of strings taken as written (so ``NO`` stays ``"NO"``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from riskstream.features.catalog import FeatureSpec, FeatureType
from riskstream.rules.checker import Environment
from riskstream.rules.compiler import CompiledExpression, compile_expression
from riskstream.rules.diagnostics import RuleDiagnostic, RuleError, SourceText
from riskstream.rules.functions import FUNCTIONS
from riskstream.rules.limits import RuleLimits
from riskstream.rules.planner import PlanNode, PreparedList, Program, prepare_list
from riskstream.rules.ruleset import ACCESS_FIELDS, ACTIONS, AccessList, Rule, RuleSet
from riskstream.rules.syntax import ListType

__all__ = ["compile_ruleset", "default_ruleset_path", "load_ruleset"]

_TOP_KEYS = ("version", "description", "lists", "allow", "deny", "rules")
_RULE_KEYS = ("id", "when", "action", "score", "mode", "description", "tags")
_MODES = ("active", "shadow")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_LIST_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {"and", "or", "not", "in", "true", "false", "True", "False", "None", "null"}
_STR = "tag:yaml.org,2002:str"


def default_ruleset_path() -> Path:
    """The shipped default rule set (``riskstream/data/rules/default.yaml``)."""
    return Path(__file__).resolve().parent.parent / "data" / "rules" / "default.yaml"


def load_ruleset(
    path: str | Path | None,
    catalog: Mapping[str, FeatureSpec],
    *,
    limits: RuleLimits | None = None,
) -> RuleSet:
    """Read and compile a rule file (None: the shipped default); raise `RuleError`.

    Examples
    --------
    >>> from riskstream.features.catalog import FeatureCatalog
    >>> ruleset = load_ruleset(None, FeatureCatalog.default())
    >>> len(ruleset.hash), ruleset.rules[0].mode
    (64, 'active')
    """
    file = default_ruleset_path() if path is None else Path(path)
    name = str(file) if path is not None else "riskstream/data/rules/default.yaml"
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RuleError([RuleDiagnostic(name, 1, 1, f"cannot read rule file: {reason}")]) from None
    return compile_ruleset(text, catalog, name, limits=limits, base_dir=file.parent, path=file)


def compile_ruleset(
    text: str,
    catalog: Mapping[str, FeatureSpec],
    source: str = "<string>",
    *,
    limits: RuleLimits | None = None,
    base_dir: str | Path | None = None,
    path: Path | None = None,
) -> RuleSet:
    """Compile rule-file text; `source` names it in diagnostics; list files are read from
    `base_dir` (default: the current folder). Raise `RuleError` with all problems found.

    Examples
    --------
    >>> import numpy as np
    >>> from riskstream.features.catalog import FeatureCatalog
    >>> text = '''
    ... version: 1
    ... rules:
    ...   - id: big
    ...     when: amount > 1000
    ...     action: review
    ... '''
    >>> rs = compile_ruleset(text, FeatureCatalog.default())
    >>> rs.evaluate({"amount": np.array([10.0, 5000.0])}, 2).hits
    array([[False,  True]])
    >>> compile_ruleset(text.replace("amount", "amont"), FeatureCatalog.default())
    Traceback (most recent call last):
    ...
    riskstream.rules.diagnostics.RuleError: <string>:5:11: rule 'big': unknown name 'amont'
        when: amont > 1000
              ^
      hint: did you mean 'amount'?
    """
    limits = limits or RuleLimits()
    loader = _Loader(text, catalog, source, limits, Path(base_dir) if base_dir else Path.cwd())
    return loader.load(path)


def _align(raw: str, value: str, style: str | None) -> list[int]:
    """For each index of a scalar's value (and one past its end), its index in the raw text.

    Tokens are copied verbatim from the raw text, so a greedy match that skips layout (line
    breaks, indentation, quotes, escapes) finds each token's exact place.
    """
    p = 0
    if style in ("|", ">"):
        newline = raw.find("\n")
        p = newline + 1 if newline >= 0 else len(raw)
    elif style in ("'", '"'):
        p = 1
    out: list[int] = []
    n = len(raw)
    for ch in value:
        q = p
        while q < n and raw[q] != ch and raw[q] in " \t\r\n'\"":
            q += 1
        if q < n and raw[q] == ch:
            out.append(q)
            p = q + 1
        else:
            out.append(min(p, max(n - 1, 0)))
            if p < n and raw[p] == "\\" and style == '"':
                p += {"x": 4, "u": 6, "U": 10}.get(raw[p + 1 : p + 2], 2)
            else:
                p += 1
    out.append(min(p, n))
    return out


class _Loader:
    def __init__(
        self,
        text: str,
        catalog: Mapping[str, FeatureSpec],
        source: str,
        limits: RuleLimits,
        base_dir: Path,
    ) -> None:
        self.src = SourceText(source, text)
        self.catalog = catalog
        self.limits = limits
        self.base_dir = base_dir
        self.diags: list[RuleDiagnostic] = []
        self.sources: list[Path] = []
        self.yaml: yaml.SafeLoader | None = None

    # -- diagnostics -----------------------------------------------------------------------
    def error(
        self,
        node: yaml.Node | None,
        message: str,
        rule_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        if node is None:
            self.diags.append(self.src.diagnostic_at(1, 1, message, rule_id, hint))
        else:
            mark = node.start_mark
            self.diags.append(
                self.src.diagnostic_at(mark.line + 1, mark.column + 1, message, rule_id, hint)
            )

    def fail(self) -> RuleError:
        return RuleError(self.diags, self.limits.max_errors)

    # -- YAML helpers ----------------------------------------------------------------------
    def construct(self, node: yaml.Node) -> Any:
        assert self.yaml is not None
        try:
            return self.yaml.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.error(node, f"invalid value: {exc}")
            return None

    def mapping(self, node: yaml.Node, what: str, rule_id: str | None = None) -> dict[str, Any]:
        """Key -> (key node, value node) of a mapping node, reporting duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping", rule_id)
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, f"{what}: keys must be plain names", rule_id)
                continue
            key = key_node.value
            if key in out:
                self.error(key_node, f"duplicate key {key!r} in {what}", rule_id)
                continue
            out[key] = (key_node, value_node)
        return out

    def unknown_keys(
        self, entries: dict[str, Any], allowed: tuple[str, ...], what: str, rule_id: str | None
    ) -> None:
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else "keys: " + ", ".join(allowed)
                self.error(key_node, f"unknown key {key!r} in {what}", rule_id, hint)

    def scalar_text(self, node: yaml.Node, what: str, rule_id: str | None = None) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or (node.tag != _STR and node.value == ""):
            self.error(node, f"{what} must be a non-empty text", rule_id)
            return None
        return node.value

    # -- the file --------------------------------------------------------------------------
    def load(self, path: Path | None) -> RuleSet:
        try:
            loader = yaml.SafeLoader(self.src.text)
            self.yaml = loader
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = f"invalid YAML: {exc.problem or exc.context}"
            if mark is None:
                self.diags.append(self.src.diagnostic_at(1, 1, message))
            else:
                self.diags.append(self.src.diagnostic_at(mark.line + 1, mark.column + 1, message))
            raise self.fail() from None
        except yaml.reader.ReaderError as exc:
            self.diags.append(self.src.diagnostic(exc.position, f"invalid YAML: {exc.reason}"))
            raise self.fail() from None
        except yaml.YAMLError as exc:
            self.diags.append(self.src.diagnostic_at(1, 1, f"invalid YAML: {exc}"))
            raise self.fail() from None
        try:
            return self.load_root(root, path)
        finally:
            loader.dispose()

    def load_root(self, root: yaml.Node | None, path: Path | None) -> RuleSet:
        if root is None:
            self.error(None, "empty rule file", hint="start with 'version: 1' and 'rules:'")
            raise self.fail()
        top = self.mapping(root, "a rule file")
        if not top:
            raise self.fail()
        self.unknown_keys(top, _TOP_KEYS, "the rule file", None)
        version = 1
        if "version" not in top:
            self.error(root, "missing 'version'", hint="add 'version: 1'")
        else:
            value_node = top["version"][1]
            if self.construct(value_node) != 1 or isinstance(self.construct(value_node), bool):
                self.error(value_node, "unsupported version", hint="this engine reads version: 1")
        lists = self.named_lists(top["lists"][1]) if "lists" in top else {}
        access: list[AccessList] = []
        for kind in ("allow", "deny"):
            if kind in top:
                access.extend(self.access_lists(kind, top[kind][1], lists))
        env = Environment(
            self.catalog,
            {name: _list_type(lst) for name, lst in lists.items()},
        )
        program = Program(lists)
        rules: list[Rule] = []
        roots: list[PlanNode] = []
        if "rules" not in top:
            self.error(root, "missing 'rules'", hint="add 'rules:' with a list of rules")
        else:
            for rule, planned in self.rules(top["rules"][1], env, program):
                rules.append(rule)
                roots.append(planned)
        if self.diags:
            raise self.fail()
        sources = ([path] if path is not None else []) + self.sources
        return RuleSet(rules, program, roots, lists, access, self.src.name, sources, version)

    # -- lists -----------------------------------------------------------------------------
    def named_lists(self, node: yaml.Node) -> dict[str, PreparedList]:
        out: dict[str, PreparedList] = {}
        for name, (key_node, value_node) in self.mapping(node, "'lists'").items():
            if not _LIST_NAME.match(name) or name in _RESERVED:
                self.error(key_node, f"invalid list name {name!r}", hint="use letters, digits, _")
                continue
            if name in self.catalog or name in FUNCTIONS:
                self.error(key_node, f"list name {name!r} is already a feature or function name")
                continue
            items = self.list_items(value_node, f"list {name!r}")
            if items is not None:
                out[name] = prepare_list(*items)
        return out

    def list_items(
        self, node: yaml.Node, what: str, strings_only: bool = False
    ) -> tuple[FeatureType | None, list[Any]] | None:
        if isinstance(node, yaml.SequenceNode):
            values: list[Any] = []
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode) or (
                    item.tag != _STR and item.value in ("", "~", "null", "Null", "NULL")
                ):
                    self.error(item, f"{what}: items must be numbers or strings")
                    return None
                values.append(item)
            if self.too_long(node, len(values), what):
                return None
            typed = [self.construct(v) for v in values]
            if not strings_only and typed and all(_is_number(v) for v in typed):
                return FeatureType.NUMBER, [float(v) for v in typed]
            element = FeatureType.STRING if values else None
            return element, [v.value for v in values]
        if isinstance(node, yaml.MappingNode):
            return self.list_file(node, what, strings_only)
        self.error(node, f"{what} must be a list like [a, b] or {{file: path}}")
        return None

    def too_long(self, node: yaml.Node, count: int, what: str) -> bool:
        if count > self.limits.max_list_items:
            self.error(node, f"{what} has {count} items; the limit is {self.limits.max_list_items}")
            return True
        return False

    def list_file(
        self, node: yaml.Node, what: str, strings_only: bool
    ) -> tuple[FeatureType | None, list[Any]] | None:
        entries = self.mapping(node, what)
        self.unknown_keys(entries, ("file", "type"), what, None)
        if "file" not in entries:
            self.error(node, f"{what}: a list from a file needs 'file: path'")
            return None
        file_node = entries["file"][1]
        rel = self.scalar_text(file_node, "'file'")
        wanted = ""
        if "type" in entries:
            wanted = self.scalar_text(entries["type"][1], "'type'") or "string"
            if wanted not in ("string", "number") or (strings_only and wanted != "string"):
                allowed = "string" if strings_only else "string or number"
                self.error(entries["type"][1], f"{what}: 'type' must be {allowed}")
                return None
        if rel is None:
            return None
        path = self.base_dir / rel
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            self.error(file_node, f"cannot read list file {rel!r}: {reason}")
            return None
        self.sources.append(path)
        raw: list[str] = []
        if path.suffix in (".yaml", ".yml", ".json"):
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                self.error(file_node, f"list file {rel!r} is not valid YAML: {exc}")
                return None
            if not isinstance(data, list) or not all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in data
            ):
                self.error(file_node, f"list file {rel!r} must hold a list of numbers or strings")
                return None
            if not wanted and not strings_only and data and all(_is_number(v) for v in data):
                wanted = "number"
            raw = [str(v) if not isinstance(v, float) else repr(v) for v in data]
        else:
            for line in text.splitlines():
                item = line.split("#", 1)[0].strip()
                if item:
                    raw.append(item)
        if self.too_long(file_node, len(raw), what):
            return None
        if wanted == "number":
            try:
                return FeatureType.NUMBER, [float(v) for v in raw]
            except ValueError:
                self.error(file_node, f"list file {rel!r} holds items that are not numbers")
                return None
        return (FeatureType.STRING if raw else None), raw

    def access_lists(
        self, kind: str, node: yaml.Node, lists: dict[str, PreparedList]
    ) -> list[AccessList]:
        out: list[AccessList] = []
        for key, (key_node, value_node) in self.mapping(node, f"'{kind}'").items():
            if key not in ACCESS_FIELDS:
                close = difflib.get_close_matches(key, list(ACCESS_FIELDS), n=1, cutoff=0.6)
                hint = (
                    f"did you mean {close[0]!r}?" if close else "keys: " + ", ".join(ACCESS_FIELDS)
                )
                self.error(key_node, f"unknown {kind} list {key!r}", hint=hint)
                continue
            field = ACCESS_FIELDS[key]
            spec = self.catalog.get(field)
            if spec is None or spec.type is not FeatureType.STRING:
                self.error(key_node, f"the catalog has no string field {field!r} for {key!r}")
                continue
            if isinstance(value_node, yaml.ScalarNode):
                named = lists.get(value_node.value)
                if named is None or named.element not in (FeatureType.STRING, None):
                    self.error(value_node, f"{value_node.value!r} is not a named list of strings")
                    continue
                values = list(named.values)
            else:
                items = self.list_items(value_node, f"{kind} list {key!r}", strings_only=True)
                if items is None:
                    continue
                values = items[1]
            out.append(AccessList(kind, key, field, frozenset(str(v) for v in values)))
        return out

    # -- rules -----------------------------------------------------------------------------
    def rules(
        self, node: yaml.Node, env: Environment, program: Program
    ) -> list[tuple[Rule, PlanNode]]:
        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(
                node, "'rules' must be a list of rules", hint="each rule starts with '- id:'"
            )
            return []
        if len(node.value) > self.limits.max_rules:
            self.error(node, f"too many rules ({len(node.value)}; limit {self.limits.max_rules})")
            return []
        out = []
        seen: dict[str, int] = {}
        for rule_node in node.value:
            built = self.rule(rule_node, env, program, seen)
            if built is not None:
                out.append(built)
        return out

    def rule(
        self, node: yaml.Node, env: Environment, program: Program, seen: dict[str, int]
    ) -> tuple[Rule, PlanNode] | None:
        entries = self.mapping(node, "a rule")
        if not entries:
            return None
        rule_id: str | None = None
        if "id" in entries:
            id_node = entries["id"][1]
            rule_id = self.scalar_text(id_node, "'id'")
            if rule_id is not None and not _ID.match(rule_id):
                self.error(id_node, f"invalid rule id {rule_id!r}", hint="letters, digits, _ . -")
            elif rule_id is not None and rule_id in seen:
                self.error(
                    id_node, f"duplicate rule id {rule_id!r} (first on line {seen[rule_id]})"
                )
            elif rule_id is not None:
                seen[rule_id] = id_node.start_mark.line + 1
        else:
            self.error(node, "rule has no 'id'")
        self.unknown_keys(entries, _RULE_KEYS, "a rule", rule_id)
        count = len(self.diags)
        for key in ("when", "action"):
            if key not in entries:
                self.error(node, f"rule has no {key!r}", rule_id)
        action = "review"
        if "action" in entries:
            action_node = entries["action"][1]
            action = self.scalar_text(action_node, "'action'", rule_id) or action
            if action not in ACTIONS:
                close = difflib.get_close_matches(action, ACTIONS, n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}?" if close else "actions: " + ", ".join(ACTIONS)
                self.error(action_node, f"unknown action {action!r}", rule_id, hint)
        score: float | None = None
        if "score" in entries:
            value = self.construct(entries["score"][1])
            if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
                self.error(entries["score"][1], "score must be a number in [0, 1]", rule_id)
            else:
                score = float(value)
        mode = "active"
        if "mode" in entries:
            mode = self.scalar_text(entries["mode"][1], "'mode'", rule_id) or mode
            if mode not in _MODES:
                self.error(entries["mode"][1], f"unknown mode {mode!r}", rule_id,
                           "modes: active, shadow")  # fmt: skip
        description = ""
        if "description" in entries:
            description = str(self.construct(entries["description"][1]) or "")
        tags: list[str] = []
        if "tags" in entries:
            tags_node = entries["tags"][1]
            if not isinstance(tags_node, yaml.SequenceNode) or not all(
                isinstance(t, yaml.ScalarNode) and t.value for t in tags_node.value
            ):
                self.error(tags_node, "tags must be a list of names", rule_id)
            else:
                tags = [t.value for t in tags_node.value]
        if action == "tag" and not tags and "tags" not in entries:
            self.error(node, "a 'tag' rule needs 'tags'", rule_id, "e.g. tags: [high_potential]")
        compiled = None
        if "when" in entries:
            compiled = self.condition(entries["when"][1], env, program, rule_id)
        if compiled is None or len(self.diags) > count or rule_id is None:
            return None
        rule = Rule(
            id=rule_id,
            action=action,
            score=score,
            mode=mode,
            tags=tuple(tags),
            description=description,
            features=compiled.features,
            when=compiled.text,
            canonical=compiled.canonical,
            line=node.start_mark.line + 1,
        )
        return rule, compiled.root

    def condition(
        self, node: yaml.Node, env: Environment, program: Program, rule_id: str | None
    ) -> CompiledExpression | None:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, "'when' must be an expression", rule_id,
                       "quote it, or write it as a block: when: |")  # fmt: skip
            return None
        text = node.value
        result = compile_expression(text, env, program, self.limits)
        if isinstance(result, CompiledExpression):
            return result
        locate = self.locator(node)
        for err in result:
            self.diags.append(
                self.src.diagnostic(locate(err.offset), err.message, rule_id, err.hint)
            )
        return None

    def locator(self, node: yaml.ScalarNode) -> Callable[[int], int]:
        start, end = node.start_mark.index, node.end_mark.index
        mapping = _align(self.src.text[start:end], node.value, node.style)

        def locate(offset: int) -> int:
            return start + mapping[min(max(offset, 0), len(mapping) - 1)]

        return locate


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list_type(lst: PreparedList) -> ListType:
    return ListType(lst.element)
