"""Sphinx extension for the book's API reference (``api/``, written by ``book/build.py``).

- **Re-exported names resolve.** The library re-exports names from submodules
  (``ssloserve.run`` is ``ssloserve.runtime.api.run``); each is documented once, where it
  is defined. A cross reference to the other name (``:func:`ssloserve.run```) is resolved
  by importing it and pointing at the documented object, so docstrings may use either.
  A reference to a field that a documented class declares without documenting it (a
  dataclass field) links to the class.
- **ASCII equations stay preformatted.** The library's docstrings write equations as an
  indented block after a line ending in ``:`` (PAPERS.md style), which reStructuredText
  reads as a block quote (reflowed, or an "Unexpected indentation" error when the block is
  indented unevenly). In the prose before the first numpydoc section, such a block is
  shown as a literal block (``::``), unless it is a list.
"""

from __future__ import annotations

import importlib
import inspect
import re

PACKAGE = "ssloserve"
_SECTION_RULE = re.compile(r"^\s*-{3,}\s*$")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)]|#\.)\s")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def preformat_equations(lines: list[str]) -> None:
    """Turn ``text:`` + deeper-indented block into ``text::`` in the leading prose, in place.

    >>> doc = ["Cost:", "", "    minimise  sum n", "        s.t. x", "", "Parameters", "----------",
    ...        "a : note:", "", "    b"]
    >>> preformat_equations(doc); doc[0], doc[7]
    ('Cost::', 'a : note:')
    >>> doc = ["Steps:", "", "    - one", "    - two"]
    >>> preformat_equations(doc); doc[0]
    'Steps:'
    """
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and _SECTION_RULE.match(lines[i + 1]) and line.strip():
            return  # numpydoc sections start: napoleon owns the rest
        stripped = line.rstrip()
        if not stripped.endswith(":") or stripped.endswith("::") or _indent(line) > 0:
            continue
        if stripped.lstrip().startswith((":", "..", ">>>")):
            continue  # a field, a directive or a doctest
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j == i + 1 or j >= len(lines):
            continue  # no blank line before the block, or no block
        if _indent(lines[j]) > _indent(line) and not _LIST_ITEM.match(lines[j]):
            lines[i] = stripped + ":"


def _process_docstring(app, what, name, obj, options, lines):
    if name.split(".")[0] != PACKAGE:
        return
    if what in ("data", "attribute") and lines and _is_type_doc(obj, lines):
        del lines[:]  # a constant without a #: comment gets its type's docstring (dict's)
        return
    preformat_equations(lines)


def _is_type_doc(obj, lines: list[str]) -> bool:
    """Whether ``lines`` is just the docstring of ``type(obj)`` (e.g. of ``dict``).

    >>> _is_type_doc({}, inspect.getdoc(dict).splitlines())
    True
    >>> _is_type_doc({}, ["Drop limits of chapter 4."])
    False
    """
    doc = inspect.getdoc(type(obj))
    return bool(doc) and "\n".join(lines).strip() == doc.strip()


def _import_target(target: str):
    """The object a dotted ``ssloserve...`` name denotes, or None."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _canonical(domain, obj) -> str | None:
    """The documented name of ``obj``: where a class, function or module was defined, else
    the documented data object that is ``obj`` itself."""
    if hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
        name = f"{obj.__module__}.{obj.__qualname__}"
        if name in domain.objects:
            return name
    if hasattr(obj, "__name__") and type(obj).__name__ == "module":
        return obj.__name__ if obj.__name__ in domain.modules else None
    for name, entry in domain.objects.items():
        if entry.objtype == "data" and _import_target(name) is obj:
            return name
    return None


def _resolve_alias(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith(PACKAGE + ".") and target != PACKAGE:
        return None
    domain = env.get_domain("py")
    obj = _import_target(target)
    name = None if obj is None else _canonical(domain, obj)
    reftype = node["reftype"]
    if name is None:
        # A field the class declares but does not document (a dataclass field without
        # a default has no class attribute): link to the class.
        parent, _, attr = target.rpartition(".")
        cls = _import_target(parent)
        if inspect.isclass(cls) and any(
            attr in vars(k).get("__annotations__", {}) for k in cls.__mro__
        ):
            name, reftype = _canonical(domain, cls), "class"
    if name is None or name == target:
        return None
    ref = domain.resolve_xref(env, node["refdoc"], app.builder, reftype, name, node, contnode)
    if ref is None:
        found = domain.resolve_any_xref(env, node["refdoc"], app.builder, name, node, contnode)
        ref = found[0][1] if found else None
    return ref


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    app.connect("missing-reference", _resolve_alias)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
