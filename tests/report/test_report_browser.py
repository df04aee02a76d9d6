"""The report in a real headless browser: loads cleanly, filters work, text stays text."""

from __future__ import annotations

import pytest

from tests.report.conftest import SCRIPT_PAYLOAD, OpenedReport

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.slow


def visible_ids(page) -> list[str]:
    return page.eval_on_selector_all("#tlist .titem", "els => els.map(e => e.dataset.id)")


def test_report_loads_offline_with_no_console_errors(opened, screenshot_dir):
    page = opened.page
    assert page.locator("#summary .stat").count() == 6
    assert page.locator("#chart-labels svg rect").count() > 0
    assert page.locator("#chart-loss svg path").count() == 3
    page.screenshot(path=str(screenshot_dir / "summary.png"))
    page.screenshot(path=str(screenshot_dir / "full.png"), full_page=True)
    assert opened.errors == []


def test_report_requests_nothing_but_its_own_file(browser, report_html):
    page = browser.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(report_html.as_uri())
    page.wait_for_selector("html[data-ready='1']")
    page.close()
    assert urls == [report_html.as_uri()]


def test_outcome_filter_shows_only_trajectories_with_that_outcome(opened):
    page = opened.page
    assert page.locator("#f-count").inner_text() == "5 of 5 trajectories"
    page.select_option("#f-outcome", "resolved")
    assert visible_ids(page) == ["alpha", "bravo"]
    assert page.locator("#f-count").inner_text() == "2 of 5 trajectories"
    page.select_option("#f-outcome", "unresolved")
    assert visible_ids(page) == ["charlie", "delta", "xss-probe"]


def test_label_filter_keeps_trajectories_with_such_a_step_and_dims_the_other_steps(opened):
    page = opened.page
    page.select_option("#f-label", "mistake")
    assert visible_ids(page) == ["charlie", "delta"]
    page.click("#tlist .titem[data-id='charlie']")
    assert page.locator("#detail-id").inner_text() == "charlie"
    assert page.locator("#steps .step:not(.dim)").count() == 1
    assert page.locator("#steps .step:not(.dim)").get_attribute("data-label") == "mistake"


def test_filters_combine_and_an_empty_result_says_so(opened):
    page = opened.page
    page.select_option("#f-outcome", "resolved")
    page.select_option("#f-label", "mistake")
    assert visible_ids(page) == []
    assert "No trajectory matches" in page.locator("#detail").inner_text()


def test_search_finds_text_inside_thoughts_and_marks_it(opened):
    page = opened.page
    page.fill("#f-search", "needle-in-haystack")
    expect(page.locator("#f-count")).to_have_text("1 of 5 trajectories")
    assert visible_ids(page) == ["delta"]
    assert page.locator("#detail mark").first.inner_text().lower() == "needle-in-haystack"


def test_script_payload_in_an_observation_shows_as_text_and_runs_nothing(
    browser, report_html, screenshot_dir
):
    # The page's Content-Security-Policy would block injected script anyway; bypass it so
    # the test proves that the text is never parsed as HTML in the first place.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1400, "height": 1000})
    opened = OpenedReport(context.new_page())
    page = opened.page
    page.goto(report_html.as_uri())
    page.wait_for_selector("html[data-ready='1']")
    page.fill("#f-search", "window.__pwned")
    expect(page.locator("#f-count")).to_have_text("1 of 5 trajectories")
    assert page.locator("#detail-id").inner_text() == "xss-probe"
    observation = page.locator("#steps .step[data-index='0'] .part.obs pre").inner_text()
    assert SCRIPT_PAYLOAD in observation
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("#detail script, #detail img").count() == 0
    reason = page.locator("#steps .step[data-index='0'] .reason").inner_text()
    assert reason == "<b>good</b> step 0"
    page.locator("#browser").screenshot(path=str(screenshot_dir / "trajectory-xss.png"))
    assert opened.errors == []
    context.close()


def test_token_tags_follow_the_chosen_policy(opened, screenshot_dir):
    page = opened.page
    page.click("#tlist .titem[data-id='charlie']")
    mistake = "#steps .step[data-index='1'] .tok"
    assert page.locator("#f-policy").input_value() == "srft"
    assert page.locator(mistake).inner_text() == "masked 10 tok"
    page.locator("#browser").screenshot(path=str(screenshot_dir / "trajectory.png"))
    page.select_option("#f-policy", "sft")
    assert page.locator(mistake).inner_text() == "trained 10 tok"
    page.select_option("#f-policy", "rft")
    assert "dropped this trajectory" in page.locator(".tokmap").inner_text()


def test_long_observations_are_collapsed_until_opened(browser, tmp_path):
    from srft.files.corpus import Message, Source, Trajectory
    from srft.report.build import write_report

    long_output = "\n".join(f"line {i}" for i in range(200))
    t = Trajectory.from_messages(
        id="long",
        source=Source(format="test", file="f", record="0"),
        messages=[
            Message(role="user", content="task"),
            Message(role="assistant", content="```bash\nseq 200\n```"),
            Message(role="user", content=long_output),
        ],
    )
    html = write_report(tmp_path / "r.html", corpus=[t])
    page = browser.new_page()
    page.goto(html.as_uri())
    page.wait_for_selector("html[data-ready='1']")
    details = page.locator("#steps .part.obs details.long")
    assert details.count() == 1
    assert not page.locator("#steps .part.obs details.long pre").is_visible()
    details.locator("summary").click()
    assert "line 199" in page.locator("#steps .part.obs details.long pre").inner_text()
    page.close()


def test_the_nll_table_shows_each_models_numbers_and_the_change_from_the_base(opened):
    table = opened.page.locator("#nll-table")
    text = table.inner_text()
    assert "base" in text and "srft" in text
    srft_row = table.locator("tr", has_text="srft")
    assert "2.600" in srft_row.inner_text() and "+0.600" in srft_row.inner_text()


def test_the_agent_evaluation_commands_are_listed(opened):
    text = opened.page.locator("#handoff").inner_text()
    assert "vllm serve" in text and "mini-extra swebench" in text
    assert "swebench.harness.run_evaluation" in text


def test_the_summary_says_how_each_student_moved_on_good_and_mistake_steps(opened):
    text = opened.page.locator("#headline").inner_text()
    assert "srft: held-out NLL per token on good steps -0.300, on mistake steps +0.600" in text


def test_the_closed_loop_shows_each_models_success_and_its_paired_difference(
    opened, screenshot_dir
):
    section = opened.page.locator("#rollouts")
    section.screenshot(path=str(screenshot_dir / "rollouts.png"))
    text = section.inner_text()
    assert "the same 20 fresh toy episodes" in text
    assert "Greedy decoding" in text and "Sampled, T=1" in text
    srft_row = section.locator("table.rollout-table").first.locator("tr", has_text="srft")
    cells = srft_row.locator("td").all_inner_texts()
    assert cells[1].startswith("100.0%")
    assert cells[2].startswith("+") and "pp" in cells[2]
