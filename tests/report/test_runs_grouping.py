"""The report groups the runs of each instance (pass@k sampling) and states pass@k."""

from __future__ import annotations

import pytest

from srft.files.corpus import Message, Outcome, Source, Trajectory
from srft.report.build import collect_report_data, write_report


def run(instance: str, n: int, status: str) -> Trajectory:
    return Trajectory.from_messages(
        id=f"{instance}@{n}",
        instance_id=instance,
        source=Source(format="test", file=f"run{n}/{instance}.traj.json", record="0"),
        outcome=Outcome(status=status),
        messages=[
            Message(role="user", content=f"task {instance}"),
            Message(role="assistant", content=f"```bash\necho {n}\n```"),
            Message(role="user", content="ok"),
        ],
    )


def interleaved() -> list[Trajectory]:
    """Runs as a sampled corpus lists them: run folder by run folder, instances interleaved."""
    return [
        run("a__x-1", 0, "resolved"),
        run("b__y-2", 1, "unresolved"),
        run("c__z-3", 2, "resolved"),
        run("a__x-1", 3, "unresolved"),
        run("b__y-2", 4, "unresolved"),
    ]


def test_the_runs_of_an_instance_are_listed_together_in_order_of_first_run():
    data = collect_report_data(corpus=interleaved())
    order = [(t["instance_id"], t["run"], t["runs"]) for t in data["trajectories"]]
    assert order == [
        ("a__x-1", 1, 2),
        ("a__x-1", 2, 2),
        ("b__y-2", 1, 2),
        ("b__y-2", 2, 2),
        ("c__z-3", 1, 1),
    ]


def test_the_summary_states_runs_per_instance_and_pass_at_k():
    runs = collect_report_data(corpus=interleaved())["summary"]["runs"]
    assert runs["instances"] == 3 and runs["with_several_runs"] == 2 and runs["max_runs"] == 2
    # pass@1: a 1/2, b 0/2, c 1/1 -> (0.5 + 0 + 1) / 3; pass@2 over a and b: (1 + 0) / 2.
    assert runs["pass_at_k"] == {"1": pytest.approx(0.5), "2": pytest.approx(0.5)}


@pytest.mark.slow
def test_the_browser_heads_each_group_of_several_runs(browser, tmp_path):
    pytest.importorskip("playwright.sync_api")
    html = write_report(tmp_path / "r.html", corpus=interleaved())
    page = browser.new_page()
    page.goto(html.as_uri())
    page.wait_for_selector("html[data-ready='1']")
    items = page.eval_on_selector_all(
        "#tlist > div",
        "els => els.map(e => e.className + ':' + (e.dataset.instance || e.dataset.id))",
    )
    assert items == [
        "tgroup:a__x-1", "titem active:a__x-1@0", "titem:a__x-1@3",
        "tgroup:b__y-2", "titem:b__y-2@1", "titem:b__y-2@4",
        "titem:c__z-3@2",
    ]  # fmt: skip
    assert "3 instances, up to 2 runs each · pass@1 0.500 · pass@2 0.500" in (
        page.locator("#runs-line").inner_text()
    )
    page.close()
