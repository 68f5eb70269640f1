"""A person's integrations drawn as a timeline: SVG written here, on the server, and PNG rendered from it.

Invariant: the picture is a pure function of its ``Chart``; one row per institution and quality code, a bar per
period whose left edge is its first day and right edge the end of its last day, so adjacent days never overlap
and a one-day period still shows; an open end runs to the right edge and fades into an arrow; a period cut by
the drawn range shows a chevron where it goes on; today is a dashed line; the missing days of a refused
CheckAccess are a red row and red bands across every row. Every text that comes from data is XML-escaped, and
the SVG carries presentation attributes only (no ``style``), so a page's Content-Security-Policy needs no
``unsafe-inline``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

from gateway.domain.periods import ONE_DAY, Period, PeriodSet, normalize

__all__ = ["Chart", "Row", "Words", "render_png", "render_svg", "rows_in_order"]

WIDTH = 1100
LABEL_WIDTH = 320
RIGHT_MARGIN = 24
TOP = 58  # title and axis above the first row
ROW = 34
BAR = 18
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
OWN = "#1f5fbf"
OTHER = "#5b6b7b"
MISSING = "#c62828"
TODAY = "#b26a00"
GRID = "#d8dee4"
INK = "#1f2328"
MUTED = "#57606a"
_LABEL_CHARS = 46


@dataclass(frozen=True, slots=True)
class Row:
    """One institution's periods in one quality code."""

    institution: str  # e.g. "OCMW Demostad (0212345668)"
    code: str  # e.g. "01 file under investigation"
    periods: PeriodSet
    own: bool = False  # the viewing institution's row: drawn in its own colour


@dataclass(frozen=True, slots=True)
class Words:
    """The picture's few words, in the viewer's language."""

    today: str = "today"
    open_end: str = "open end"
    missing: str = "Missing days"
    nothing: str = "No integrations in this period."


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    rows: tuple[Row, ...]
    today: date
    window: Period  # the consultation period: nothing is drawn outside it
    missing: PeriodSet = ()
    missing_label: str = ""
    words: Words = field(default_factory=Words)
    ident: str = "tl"  # prefix of the SVG's element ids, unique on a page that shows several pictures


def _span(chart: Chart) -> tuple[date, date]:
    """The first and last day drawn: the days the periods begin and end within the window, and today when it is
    near them (a today years away would squeeze every bar into a sliver: the axis then points to it instead)."""
    window = chart.window
    periods = [p for row in chart.rows for p in row.periods] + list(chart.missing)
    days = [d for p in periods for d in (p.start, p.end) if d is not None and window.contains(d)]
    days += [window.start for p in periods if p.start < window.start <= p.last]  # seen from the window's start
    today = chart.today if window.contains(chart.today) else None
    if not days:
        days = [today or window.start]
    lo, hi = min(days), max(days)
    reach = max(hi - lo, timedelta(days=28)) / 2
    if today is not None and lo - reach <= today <= hi + reach:
        lo, hi = min(lo, today), max(hi, today)
    if hi - lo < timedelta(days=27):
        middle = lo + (hi - lo) / 2
        lo, hi = middle - timedelta(days=14), middle + timedelta(days=14)
    pad = max(timedelta(days=3), (hi - lo) / 25)
    lo, hi = max(lo - pad, window.start), hi + pad
    if window.end is not None and hi > window.end:
        hi = window.end
    return lo, hi


def _ticks(lo: date, hi: date) -> list[tuple[date, str]]:
    """Where the axis is labelled: the first of each month (or quarter, or year), or Mondays for short spans."""
    days = (hi - lo).days
    if days <= 45:
        first = lo + timedelta(days=(7 - lo.weekday()) % 7)
        return [(first + timedelta(weeks=i), (first + timedelta(weeks=i)).isoformat()) for i in range(days // 7 + 1)]
    step = 1 if days <= 550 else 3 if days <= 1100 else 12
    ticks: list[tuple[date, str]] = []
    year, month = lo.year, lo.month
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        if (month - 1) % step:
            continue
        day = date(year, month, 1)
        if day > hi:
            return ticks
        ticks.append((day, f"{year}" if step == 12 else f"{year}-{month:02d}"))


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Canvas:
    def __init__(self, lo: date, hi: date) -> None:
        self.lo, self.hi = lo, hi
        self.x0, self.x1 = LABEL_WIDTH, WIDTH - RIGHT_MARGIN
        self.parts: list[str] = []

    def x(self, day: date) -> float:
        total = (self.hi + ONE_DAY - self.lo).days
        return round(self.x0 + (day - self.lo).days * (self.x1 - self.x0) / total, 2)

    def add(self, text: str) -> None:
        self.parts.append(text)

    def text(self, x: float, y: float, content: str, *, size: int = 12, fill: str = INK, **attrs: str) -> None:
        extra = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
        self.add(f'<text x="{x}" y="{y}" font-size="{size}" fill="{fill}"{extra}>{escape(content)}</text>')


def _period_words(p: Period, words: Words) -> str:
    if p.end is None:
        return f"{p.start.isoformat()} – {words.open_end}"
    return p.start.isoformat() if p.end == p.start else f"{p.start.isoformat()} – {p.end.isoformat()}"


def _bar(canvas: _Canvas, ident: str, p: Period, y: float, colour: str, words: Words, caption: str) -> None:
    """One period as a bar between ``y`` and ``y + BAR``, clipped to the drawn span, with its tooltip."""
    if p.last < canvas.lo or p.start > canvas.hi:
        return
    start = max(p.start, canvas.lo)
    cut_left = p.start < canvas.lo
    open_end = p.end is None
    cut_right = not open_end and p.last > canvas.hi
    x_start = canvas.x(start)
    x_end = canvas.x1 if open_end or cut_right else canvas.x(p.last + ONE_DAY)
    width = max(2.0, round(x_end - x_start, 2))
    tip = escape(f"{caption}: {_period_words(p, words)}")
    canvas.add(f'<g class="period"><title>{tip}</title>')
    if open_end:
        fade = min(60.0, width / 2)
        canvas.add(
            f'<rect x="{x_start}" y="{y}" width="{round(width - fade, 2)}" height="{BAR}" fill="{colour}" rx="2"/>'
            f'<rect x="{round(x_end - fade, 2)}" y="{y}" width="{fade}" height="{BAR}" '
            f'fill="url(#{ident}-fade-{colour[1:]})"/>'
            f'<path d="M{x_end - 8},{y - 3} L{x_end},{y + BAR / 2} L{x_end - 8},{y + BAR + 3} Z" fill="{colour}"/>'
        )
    else:
        canvas.add(f'<rect x="{x_start}" y="{y}" width="{width}" height="{BAR}" fill="{colour}" rx="2"/>')
        if cut_right:
            canvas.add(
                f'<path d="M{x_end - 7},{y + 3} L{x_end - 2},{y + BAR / 2} L{x_end - 7},{y + BAR - 3}" '
                f'fill="none" stroke="#ffffff" stroke-width="2"/>'
            )
    if cut_left:
        canvas.add(
            f'<path d="M{x_start + 7},{y + 3} L{x_start + 2},{y + BAR / 2} L{x_start + 7},{y + BAR - 3}" '
            f'fill="none" stroke="#ffffff" stroke-width="2"/>'
        )
    label = _period_words(p, words)
    if width > 6.4 * len(label) + 14:
        canvas.text(round(x_start + 8, 2), y + BAR - 5, label, size=11, fill="#ffffff")
    canvas.add("</g>")


def render_svg(chart: Chart) -> str:
    """The chart as a standalone SVG document (UTF-8 text, no XML declaration: it is also inlined in HTML)."""
    lo, hi = _span(chart)
    canvas = _Canvas(lo, hi)
    words = chart.words
    missing = normalize(chart.missing)
    rows = len(chart.rows) + (1 if missing else 0)
    plot_bottom = TOP + max(rows, 1) * ROW
    height = plot_bottom + 40
    ident = chart.ident

    canvas.text(12, 22, chart.title, size=15, font_weight="bold")
    canvas.add(
        f'<rect x="{canvas.x0}" y="{TOP - 6}" width="{canvas.x1 - canvas.x0}" height="{plot_bottom - TOP + 6}" '
        f'fill="#f6f8fa" stroke="{GRID}"/>'
    )
    for day, label in _ticks(lo, hi):
        x = canvas.x(day)
        canvas.add(f'<line x1="{x}" y1="{TOP - 6}" x2="{x}" y2="{plot_bottom}" stroke="{GRID}"/>')
        canvas.text(x, TOP - 12, label, size=11, fill=MUTED, text_anchor="middle")
    for p in missing:
        if p.last < lo or p.start > hi:
            continue
        x_start = canvas.x(max(p.start, lo))
        x_end = canvas.x1 if p.last > hi else canvas.x(p.last + ONE_DAY)
        canvas.add(
            f'<rect x="{x_start}" y="{TOP - 6}" width="{max(2.0, round(x_end - x_start, 2))}" '
            f'height="{plot_bottom - TOP + 6}" fill="{MISSING}" fill-opacity="0.12"/>'
        )

    y = float(TOP)
    for row in chart.rows:
        canvas.add(f'<line x1="12" y1="{y + ROW - 4}" x2="{canvas.x1}" y2="{y + ROW - 4}" stroke="{GRID}"/>')
        canvas.text(12, y + 9, _short(row.institution), size=12, font_weight="bold" if row.own else "normal")
        canvas.text(12, y + 23, _short(row.code), size=11, fill=MUTED)
        colour = OWN if row.own else OTHER
        for p in row.periods:
            _bar(canvas, ident, p, y + 3, colour, words, f"{row.institution}, {row.code}")
        y += ROW
    if missing:
        canvas.text(12, y + 9, words.missing, size=12, fill=MISSING, font_weight="bold")
        canvas.text(12, y + 23, _short(chart.missing_label), size=11, fill=MISSING)
        for p in missing:
            _bar(canvas, ident, p, y + 3, MISSING, words, words.missing)
        y += ROW
    if not chart.rows and not missing:
        canvas.text(canvas.x0 + 12, TOP + 21, words.nothing, size=12, fill=MUTED)

    if chart.today > hi:
        canvas.text(
            canvas.x1,
            plot_bottom + 20,
            f"{words.today} {chart.today.isoformat()} →",
            size=11,
            fill=TODAY,
            text_anchor="end",
            font_weight="bold",
        )
    elif chart.today < lo:
        canvas.text(
            canvas.x0,
            plot_bottom + 20,
            f"← {words.today} {chart.today.isoformat()}",
            size=11,
            fill=TODAY,
            font_weight="bold",
        )
    else:
        x = round(canvas.x(chart.today) + (canvas.x(chart.today + ONE_DAY) - canvas.x(chart.today)) / 2, 2)
        canvas.add(
            f'<line x1="{x}" y1="{TOP - 6}" x2="{x}" y2="{plot_bottom + 6}" stroke="{TODAY}" stroke-width="2" '
            'stroke-dasharray="5,3"/>'
        )
        canvas.text(
            x,
            plot_bottom + 20,
            f"{words.today} {chart.today.isoformat()}",
            size=11,
            fill=TODAY,
            text_anchor="middle",
            font_weight="bold",
        )

    colours = sorted({OWN, OTHER, MISSING})
    gradients = "".join(
        f'<linearGradient id="{ident}-fade-{c[1:]}" x1="0" y1="0" x2="1" y2="0">'
        f'<stop offset="0" stop-color="{c}" stop-opacity="1"/><stop offset="1" stop-color="{c}" stop-opacity="0.15"/>'
        "</linearGradient>"
        for c in colours
    )
    description = "; ".join(
        f"{row.institution}, {row.code}: {', '.join(_period_words(p, words) for p in row.periods)}"
        for row in chart.rows
    )
    if missing:
        description += f"; {words.missing}: {', '.join(_period_words(p, words) for p in missing)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f"font-family={quoteattr(FONT)}>"
        f'<title id="{ident}-title">{escape(chart.title)}</title>'
        f'<desc id="{ident}-desc">{escape(description or words.nothing)}</desc>'
        f"<defs>{gradients}</defs>"
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
    )
    return head + "".join(canvas.parts) + "</svg>"


def render_png(svg: str, scale: float = 2.0) -> bytes:
    """The SVG rendered as PNG by CairoSVG (which needs the cairo library, libcairo2 on Debian).

    ``OSError`` when the cairo library cannot be loaded.
    """
    import cairosvg  # imported here: loading it loads the cairo library, which only the PNG download needs

    png: bytes = cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=scale)
    return png


def rows_in_order(rows: Sequence[Row]) -> tuple[Row, ...]:
    """The viewer's own rows first, then the others as they came."""
    return tuple(sorted(rows, key=lambda r: not r.own))
