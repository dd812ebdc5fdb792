"""The committee prints the report to PDF from the browser: print styles hide the controls."""

from __future__ import annotations

import pytest

from auditor.reports.render import write_report

pytestmark = pytest.mark.browser


def test_print_media_hides_controls_and_pdf_is_written(browser, tmp_path, report_input):
    html = write_report(tmp_path, report_input)["html"]
    page = browser.new_page()
    page.goto(html.as_uri(), wait_until="load")
    assert page.locator("#finding-filter").is_visible()  # on screen, the script shows it
    page.emulate_media(media="print")
    assert page.locator("#finding-filter").is_hidden()
    assert page.locator("nav.toc").is_hidden()
    assert page.locator("#committee").is_visible()
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    # The committee, map and matrix each start a sheet: several pages, not one long strip.
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages >= 3
    page.close()
