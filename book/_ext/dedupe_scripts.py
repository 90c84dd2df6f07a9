"""Sphinx extension: drop script tags that a page would otherwise include twice.

sphinx-thebe registers its inline configuration script each time documents are read,
so a build that reads twice declares ``const THEBE_JS_URL`` twice, a SyntaxError in
the browser on every page.
"""

from __future__ import annotations


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    seen: set[tuple] = set()
    unique = []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {}) or {}
        # An inline script is registered with filename None by one path and "" by another.
        filename = str(getattr(script, "filename", script) or "")
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: the list is the builder's own, which later handlers still append to.
    context["script_files"][:] = unique


def setup(app) -> dict:
    """Register the page-context hook."""
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
