"""SVG status badges (``/badge/P/CC.svg`` …): label on grey, verdict on its colour.

Pure. The SVG is built with ElementTree, so label and message are always escaped; the width
is estimated from typical Verdana 11 px glyph widths, as shields.io-style badges do, so the
badge fits its text without a font at hand.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from statusd.serve.feed import xml_safe
from statusd.serve.query import QueryError, parse_cell
from statusd.verdicts.cells import (
    COUNTRY_PRODUCTS,
    DEGRADED,
    MAJOR,
    OPERATIONAL,
    PARTIAL,
    PRODUCT_NAMES,
    UNDER_MAINTENANCE,
    UNKNOWN,
    VERDICT_LABELS,
    VerdictSet,
    cell_name,
)

SVG = "http://www.w3.org/2000/svg"
CONTENT_TYPE = "image/svg+xml; charset=utf-8"

VERDICT_COLOURS = {
    OPERATIONAL: "#2e7d32",
    DEGRADED: "#b7950b",
    PARTIAL: "#d35400",
    MAJOR: "#c0392b",
    UNKNOWN: "#757575",
    UNDER_MAINTENANCE: "#1f6fb2",
}
INDICATOR_COLOURS = {
    "none": VERDICT_COLOURS[OPERATIONAL],
    "minor": VERDICT_COLOURS[DEGRADED],
    "major": VERDICT_COLOURS[PARTIAL],
    "critical": VERDICT_COLOURS[MAJOR],
}
LABEL_COLOUR = "#555"

_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_NARROW = set("fijlrtI.,:;!|'()[]{} ")
_WIDE = set("mwMW@%")


def text_width(text: str) -> int:
    """Estimated width in pixels of ``text`` in Verdana 11 px."""
    width = 0.0
    for char in text:
        if char in _NARROW:
            width += 3.9
        elif char in _WIDE:
            width += 10.5
        elif char.isupper() or char.isdigit():
            width += 7.6
        else:
            width += 6.8
    return round(width)


def badge_svg(label: str, message: str, colour: str) -> bytes:
    """A two-part badge; ``colour`` is ``#rgb`` or ``#rrggbb`` (ValueError otherwise)."""
    if not _COLOUR.fullmatch(colour):
        raise ValueError(f"colour must be #rgb or #rrggbb, got {colour!r}")
    label, message = xml_safe(label), xml_safe(message)
    left = text_width(label) + 12
    right = text_width(message) + 12
    total = left + right
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG,
            "width": str(total),
            "height": "20",
            "role": "img",
            "aria-label": f"{label}: {message}",
        },
    )
    ET.SubElement(svg, "title").text = f"{label}: {message}"
    clip = ET.SubElement(svg, "clipPath", {"id": "r"})
    ET.SubElement(clip, "rect", {"width": str(total), "height": "20", "rx": "3", "fill": "#fff"})
    shapes = ET.SubElement(svg, "g", {"clip-path": "url(#r)"})
    ET.SubElement(shapes, "rect", {"width": str(left), "height": "20", "fill": LABEL_COLOUR})
    ET.SubElement(
        shapes,
        "rect",
        {"x": str(left), "width": str(right), "height": "20", "fill": colour},
    )
    texts = ET.SubElement(
        svg,
        "g",
        {
            "fill": "#fff",
            "text-anchor": "middle",
            "font-family": "Verdana,Geneva,DejaVu Sans,sans-serif",
            "font-size": "11",
        },
    )
    ET.SubElement(texts, "text", {"x": f"{left / 2:g}", "y": "14"}).text = label
    ET.SubElement(texts, "text", {"x": f"{left + right / 2:g}", "y": "14"}).text = message
    document: bytes = ET.tostring(svg, encoding="utf-8", xml_declaration=True)
    return document


def verdict_badge(label: str, verdict: str) -> bytes:
    """A badge saying a verdict in words, on the verdict's colour."""
    return badge_svg(label, VERDICT_LABELS[verdict], VERDICT_COLOURS[verdict])


def overall_badge(verdicts: VerdictSet) -> bytes:
    """``/badge/overall.svg``: the overall indicator's description."""
    return badge_svg("status", verdicts.description.lower(), INDICATOR_COLOURS[verdicts.indicator])


def cell_badge(verdicts: VerdictSet, product: str, key: str | None) -> bytes:
    """``/badge/P/CC.svg``, ``/badge/billing/FUNCTION.svg``, ``/badge/support.svg``.

    Raises ``QueryError`` 404 for an unknown product, country or function, or a cell that
    does not exist now (a country without rows for the product); 400 for a malformed code.
    """
    product, key = parse_cell(product, key)
    cell = verdicts.get(product, key)
    if cell is None:
        raise QueryError(404, f"no {product} cell for {key!r}")
    if product in COUNTRY_PRODUCTS:
        label = f"{PRODUCT_NAMES[product]} {key}"
    elif product == "billing":
        label = f"{PRODUCT_NAMES[product]} {cell_name(product, key).lower()}"
    else:
        label = PRODUCT_NAMES[product]
    return verdict_badge(label, cell.verdict)
