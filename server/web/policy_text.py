"""Render a policy version's text (Markdown) for the page, safely.

Policy text is written by admins but shown to every manager, so it is treated as untrusted: raw HTML is
escaped (not passed through), links keep only http(s)/mailto targets, and images are dropped. Output gets
GOV.UK typography classes so it reads like the rest of the page.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_CLASSES = {
    "h1": "govuk-heading-l",
    "h2": "govuk-heading-m",
    "h3": "govuk-heading-s",
    "h4": "govuk-heading-s",
    "p": "govuk-body",
    "ul": "govuk-list govuk-list--bullet",
    "ol": "govuk-list govuk-list--number",
    "a": "govuk-link",
    "table": "govuk-table",
    "blockquote": "govuk-inset-text",
}


class _SafeTree(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag == "img":
                    parent.remove(child)
        for element in root.iter():
            if element.tag == "a":
                href = (element.get("href") or "").strip()
                if not href.lower().startswith(_SAFE_SCHEMES):
                    element.attrib.pop("href", None)
            if element.tag in _CLASSES:
                element.set("class", _CLASSES[element.tag])
            if element.tag in ("h1", "h2"):
                # The page already has its h1; the policy's own headings sit below it.
                element.tag = "h2" if element.tag == "h1" else "h3"
                element.set("class", _CLASSES[element.tag])


class _SafeExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API name
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeTree(md), "phonegate_safe", 0)


def render_policy(text: str) -> Markup:
    # nl2br: policy papers are often pasted as plain text, where a single line break is meant as one.
    converter = markdown.Markdown(extensions=[_SafeExtension(), "nl2br"], output_format="html")
    return Markup(converter.convert(text))  # noqa: S704 - HTML built by Markdown from escaped input
