"""The zh-CN and en reports in real Chromium: what a reader sees is in one language, offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from auditor.reports import render
from tests.reports.test_i18n import rich_input

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3400-\u9fff]")


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, requests


def _visible_texts(page: Any, selector: str) -> list[str]:
    located = page.locator(selector)
    return [
        located.nth(i).inner_text().strip()
        for i in range(located.count())
        if located.nth(i).is_visible()
    ]


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zh-CN report with one detail page, so both templates are opened."""
    monkeypatch.setattr(render, "INLINE_LIMIT", 4)
    monkeypatch.setattr(render, "MAIN_FAIL", 3)
    monkeypatch.setattr(render, "MAIN_UNKNOWN", 1)
    return render.write_report(tmp_path, rich_input("zh-CN"))["html"]


def test_the_chinese_report_reads_in_chinese_and_stays_offline(browser, written):
    page, requests = _open(browser, written)

    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert CJK.search(page.title())
    headings = _visible_texts(page, "h1, h2, h3, h5, figcaption, details > summary")
    assert len(headings) > 15
    assert [h for h in headings if not CJK.search(h)] == []
    for heading in ("风险委员会视图", "概览", "检查发现", "采集覆盖", "合规框架符合情况"):
        assert heading in headings
    # The controls a reader works: table of contents, the filter form and its choices.
    links = _visible_texts(page, "nav.toc a")
    assert links and [a for a in links if not CJK.search(a)] == []
    assert page.locator("#finding-filter").is_visible()
    labels = _visible_texts(page, "#finding-filter label")
    assert len(labels) == 5 and all(CJK.search(label) for label in labels)
    assert CJK.search(page.get_attribute("#filter-text", "placeholder") or "")
    first_options = page.locator("#finding-filter select option:first-child").all_inner_texts()
    assert first_options == ["全部"] * 4
    statuses = page.locator("#filter-status option").all_inner_texts()
    assert statuses == ["全部", "不通过", "无法判定", "通过"]
    # The check's message is English, and says so.
    message = page.locator('li.finding[data-check="ACC-002"] .message')
    assert message.get_attribute("lang") == "en"
    assert requests == [page.url]
    page.close()


def test_a_detail_page_is_chinese_too(browser, written):
    page, requests = _open(browser, written)
    link = page.locator("#more-pages a").first
    target = link.get_attribute("href")
    link.click()
    page.wait_for_load_state("load")

    assert page.url.endswith(str(target))
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    headings = _visible_texts(page, "h1, h2, h3, h5, details > summary")
    assert headings and [h for h in headings if not CJK.search(h)] == []
    assert page.locator("nav.toc a", has_text="返回报告").is_visible()
    assert all(url.startswith("file://") for url in requests)
    page.close()


def test_the_english_report_reads_in_english(browser, tmp_path):
    page, requests = _open(browser, render.write_report(tmp_path, rich_input("en"))["html"])

    assert page.evaluate("document.documentElement.lang") == "en"
    # A label's first line is its own text; below it are the options (department names).
    headings = [
        h.splitlines()[0] for h in _visible_texts(page, "h2, nav.toc a, #finding-filter label")
    ]
    assert "Committee view" in headings
    assert [h for h in headings if CJK.search(h)] == []
    assert requests == [page.url]
    page.close()
