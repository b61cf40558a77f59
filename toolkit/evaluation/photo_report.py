"""The per-photo page of `convlens eval photos`: every photo with its thumbnail, answer and probabilities."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

from PIL import Image

from toolkit.serving.verdict import Verdict

THUMBNAIL_SIDE = 112


@dataclass(frozen=True)
class ReportRow:
    id: str
    split: str
    truth: str
    description: str
    source: str
    licence: str
    verdict: Verdict
    top5: list[tuple[str, float]]
    picture: Image.Image


def _thumbnail(picture: Image.Image) -> str:
    small = picture.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    encoded = io.BytesIO()
    small.convert("RGB").save(encoded, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(encoded.getvalue()).decode()


def _row(row: ReportRow) -> str:
    right = row.verdict.label == row.truth or (row.truth == "other" and row.verdict.label == "neither")
    probabilities = ", ".join(f"{k} {v:.0%}" for k, v in row.verdict.probabilities.items())
    top5 = "<br>".join(f"{html.escape(name.split(',')[0])} {p:.0%}" for name, p in row.top5)
    return (
        f"<tr class='{'right' if right else 'wrong'}'><td><img src='{_thumbnail(row.picture)}' alt=''></td>"
        f"<td>{html.escape(row.id)}<br><small>{html.escape(row.description)}</small></td>"
        f"<td>{row.split}</td><td>{row.truth}</td><td><b>{row.verdict.label}</b><br><small>{probabilities}</small></td>"
        f"<td><small>{top5}</small></td><td><small>{html.escape(row.source)}<br>{html.escape(row.licence)}</small></td>"
        "</tr>"
    )


def html_report(rows: list[ReportRow], summary_markdown: str) -> str:
    """A self-contained HTML page (thumbnails inline): the figures, then one row per photo, wrong ones marked."""
    body = "\n".join(_row(row) for row in sorted(rows, key=lambda r: (r.split, r.truth, r.id)))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>convlens: real-photo evaluation</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; vertical-align: top; text-align: left; }}
tr.wrong {{ background: #fde2e2; }} pre {{ background: #f6f6f6; padding: 1em; white-space: pre-wrap; }}
</style></head><body>
<h1>Cat, dog or neither: real photos</h1>
<pre>{html.escape(summary_markdown)}</pre>
<table><tr><th></th><th>photo</th><th>split</th><th>truth</th><th>answer</th><th>ImageNet top 5</th>
<th>source and licence</th></tr>
{body}
</table></body></html>
"""
