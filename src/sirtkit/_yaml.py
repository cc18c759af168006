"""A bounded, strict YAML loader for untrusted case files and rule sets (foundation).

PyYAML's ``safe_load`` builds only plain Python objects, but it still accepts three things a clinical
input must not carry:

- **alias bombs** ("billion laughs"): a few hundred bytes of anchors and aliases that expand to
  billions of nodes once anything walks the result (validation, error messages). A case file needs
  few aliases, so their number and the size of the expanded document are bounded;
- **deep nesting**: PyYAML's composer recurses once per level, so ``[[[[...]]]]`` a few thousand levels
  deep ends in ``RecursionError``. Nesting is bounded far below Python's recursion limit;
- **duplicate keys**: ``lung_shunt_fraction: 0.05`` followed later by ``lung_shunt_fraction: 0.5`` keeps
  the last value silently (YAML 1.2 §3.2.1.1 requires keys to be unique). Duplicates are refused,
  naming the line of each. Merge keys (``<<: *defaults``) may still be overridden, as YAML intends.

Every refusal is a :class:`YamlRefused` (a ``yaml.MarkedYAMLError``) that carries the line and column,
so callers report it like any other YAML syntax error.

Examples
--------
>>> load_yaml_text("a: 1\\nb: [1, 2]")
{'a': 1, 'b': [1, 2]}
>>> try:
...     load_yaml_text("a: 1\\na: 2")
... except YamlRefused as err:
...     print(err.problem)
duplicate key 'a' (first given on line 1): give each field once
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_EXPANDED_NODES", "YamlRefused", "load_yaml_text"]

# Bounds chosen for hand-written clinical case files, which hold well under a thousand values and
# rarely use anchors at all; each bound is orders of magnitude above that and far below the point
# where memory, time or Python's recursion limit (1000 frames) are at risk.
MAX_ALIASES = 100
MAX_DEPTH = 50
MAX_EXPANDED_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefused(yaml.MarkedYAMLError):
    """The YAML is well formed but is refused (alias bomb, too deep, duplicate key)."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with bounds on aliases, depth and expanded size, and unique keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlRefused(
                    f"more than {MAX_ALIASES} aliases (*name): refused as a possible alias bomb; "
                    "write the values out", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRefused(f"nested more than {MAX_DEPTH} levels deep: refused; a case file needs a few",
                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node | None:
        node = super().compose_document()
        if node is not None and self._aliases:
            _check_expanded_size(node)
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise YamlRefused(
                        f"duplicate key {key!r} (first given on line {first.start_mark.line + 1}): "
                        "give each field once", key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        # An integer of more than 4300 digits makes int() raise ValueError (CPython's limit against
        # quadratic-time conversion); no case-file number is that long.
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise YamlRefused(f"the integer {node.value[:20]}... ({len(node.value)} digits) is too long to be a "
                              "value", node.start_mark) from None


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def _check_expanded_size(root: Node) -> None:
    """Refuse a document whose nodes, with every alias expanded, number more than the bound."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node) -> int:
        # Recursion is bounded: MAX_DEPTH levels, and a node met again inside itself is refused.
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            raise YamlRefused("an alias refers to a collection that contains it (a recursive structure): "
                              "refused", node.start_mark)
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        if total > MAX_EXPANDED_NODES:
            raise YamlRefused(
                f"expands to more than {MAX_EXPANDED_NODES} values through aliases: refused as a possible "
                "alias bomb; write the values out", node.start_mark)
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root)


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document with the bounds above; raises ``yaml.YAMLError`` (or :class:`YamlRefused`)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
