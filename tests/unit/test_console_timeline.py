"""The timeline picture: what it draws for a person's periods, read back from the SVG as a viewer would."""

from __future__ import annotations

import struct
from datetime import date

import pytest
from lxml import etree

from gateway.adapters.console.timeline import LABEL_WIDTH, RIGHT_MARGIN, WIDTH, Chart, Row, render_png, render_svg
from gateway.domain.periods import Period

SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2015, 1, 10)
WINDOW = Period(date(2014, 1, 1))
X1 = WIDTH - RIGHT_MARGIN


def _parse(chart: Chart) -> etree._Element:
    return etree.fromstring(render_svg(chart).encode())


def _bars(svg: etree._Element) -> dict[str, tuple[float, float]]:
    """Each period group's tooltip and the x-span of its first rectangle (and of the fade, for an open end)."""
    found = {}
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") != "period":
            continue
        rects = group.findall(f"{SVG}rect")
        left = float(rects[0].get("x"))
        right = max(float(r.get("x")) + float(r.get("width")) for r in rects)
        found[group.findtext(f"{SVG}title")] = (left, right)
    return found


def _chart(*rows: Row, missing: tuple[Period, ...] = (), window: Period = WINDOW) -> Chart:
    return Chart("Timeline — 85073003328", rows, TODAY, window, missing, "missing for form.living-wage (rule R5.3)")


def test_the_manuals_example_draws_one_row_with_two_bars_that_leave_the_desintegrated_days_empty() -> None:
    december, late_january = Period(date(2014, 12, 1), date(2014, 12, 31)), Period(date(2015, 1, 15), date(2015, 1, 31))
    svg = _parse(
        _chart(Row("OCMW Demostad (0212345668)", "01 file under investigation", (december, late_january), True))
    )
    bars = _bars(svg)
    assert list(bars) == [
        "OCMW Demostad (0212345668), 01 file under investigation: 2014-12-01 – 2014-12-31",
        "OCMW Demostad (0212345668), 01 file under investigation: 2015-01-15 – 2015-01-31",
    ]
    (a_left, a_right), (b_left, b_right) = bars.values()
    day = (b_right - b_left) / 17  # 15..31 January: 17 days
    assert b_left - a_right == pytest.approx(14 * day, rel=0.01)  # 1..14 January: nothing
    assert LABEL_WIDTH <= a_left < a_right < b_left < b_right <= X1


def test_adjacent_periods_touch_without_overlapping_and_a_single_day_still_shows() -> None:
    rows = (
        Row("A (0212345668)", "01", (Period(date(2015, 1, 1), date(2015, 1, 9)),)),
        Row("B (0212345767)", "01", (Period(date(2015, 1, 10), date(2015, 1, 10)),)),
    )
    (first, one_day) = _bars(_parse(_chart(*rows))).values()
    assert first[1] == pytest.approx(one_day[0])
    assert one_day[1] - one_day[0] > 2


def test_an_open_end_runs_to_the_right_edge_fading_into_an_arrow() -> None:
    svg = _parse(_chart(Row("OCMW Demostad (0212345668)", "07", (Period(date(2015, 1, 15)),), True)))
    ((_, right),) = _bars(svg).values()
    assert right == pytest.approx(X1)
    group = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "period")
    assert group.findtext(f"{SVG}title").endswith("2015-01-15 – open end")
    fade = group.findall(f"{SVG}rect")[1].get("fill")
    gradient = svg.find(f".//{SVG}linearGradient[@id='{fade[5:-1]}']")
    assert [s.get("stop-opacity") for s in gradient] == ["1", "0.15"]
    arrow = group.find(f"{SVG}path").get("d")
    assert f"L{X1}," in arrow


def test_today_is_a_dashed_line_and_the_missing_days_a_red_row_with_bands_across_every_row() -> None:
    rows = (Row("OCMW Demostad (0212345668)", "01", (Period(date(2014, 12, 1), date(2014, 12, 31)),), True),)
    svg = _parse(_chart(*rows, missing=(Period(TODAY, TODAY), Period(date(2015, 2, 1), date(2015, 2, 9)))))
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "today 2015-01-10" in texts
    assert "Missing days" in texts and "missing for form.living-wage (rule R5.3)" in texts
    dashed = [line for line in svg.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 1
    bars = _bars(svg)
    assert "Missing days: 2015-01-10" in bars and "Missing days: 2015-02-01 – 2015-02-09" in bars
    today_left, today_right = bars["Missing days: 2015-01-10"]
    assert today_left <= float(dashed[0].get("x1")) <= today_right
    bands = [r for r in svg.iter(f"{SVG}rect") if r.get("fill-opacity") == "0.12"]
    assert len(bands) == 2


def test_a_today_years_away_is_pointed_at_from_the_edge_instead_of_squeezing_the_bars() -> None:
    rows = (Row("OCMW Demostad (0212345668)", "01", (Period(date(2014, 12, 1), date(2015, 1, 31)),), True),)
    chart = Chart("Timeline", rows, date(2026, 12, 2), Period(date(1900, 1, 1)))
    svg = _parse(chart)
    ((left, right),) = _bars(svg).values()
    assert right - left > 0.8 * (X1 - LABEL_WIDTH)
    assert "today 2026-12-02 →" in [t.text for t in svg.iter(f"{SVG}text")]
    assert not [line for line in svg.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    before = _parse(Chart("Timeline", rows, date(2010, 1, 1), Period(date(1900, 1, 1))))
    assert "← today 2010-01-01" in [t.text for t in before.iter(f"{SVG}text")]


def test_a_period_longer_than_the_window_is_cut_at_its_edges_with_a_chevron() -> None:
    window = Period(date(2015, 1, 1), date(2015, 1, 31))
    svg = _parse(_chart(Row("X (0212345668)", "02", (Period(date(2014, 6, 1), date(2015, 5, 31)),)), window=window))
    ((left, right),) = _bars(svg).values()
    assert left == pytest.approx(LABEL_WIDTH) and right == pytest.approx(X1)
    group = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "period")
    assert len(group.findall(f"{SVG}path")) == 2  # one chevron each side
    assert [t.text for t in svg.iter(f"{SVG}text") if t.text and t.text.startswith("2015-01")][:1] == ["2015-01-05"]


def test_names_from_the_data_are_escaped_and_the_picture_has_no_style_attribute() -> None:
    hostile = 'OCMW <script>alert("x")</script> & Co'
    text = render_svg(_chart(Row(hostile, "01 <b>", (Period(date(2015, 1, 1), date(2015, 1, 5)),))))
    svg = etree.fromstring(text.encode())
    assert "<script" not in text
    assert not list(svg.iter(f"{SVG}script"))
    assert any(t.text == hostile for t in svg.iter(f"{SVG}text"))
    assert not [e for e in svg.iter() if e.get("style") is not None]


def test_nothing_to_draw_says_so() -> None:
    svg = _parse(_chart())
    assert "No integrations in this period." in [t.text for t in svg.iter(f"{SVG}text")]


def test_the_png_is_the_svg_rendered_at_twice_its_size() -> None:
    svg = render_svg(_chart(Row("OCMW Demostad (0212345668)", "01", (Period(date(2014, 12, 1), date(2015, 1, 31)),))))
    png = render_png(svg)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 2 * WIDTH
    assert height == 2 * int(etree.fromstring(svg.encode()).get("height"))
