"""The embedded demo's path: toy trajectories -> rules critic -> students -> report that opens.

The shipped demo trains SmolLM2-135M for a few steps (minutes; measured in docs/run.md). Here the
same demo folder is prepared and then edited the way a user would (a tiny student, fewer
episodes, one step), which runs every stage of the demo's graph in seconds and checks the
report in a real headless browser.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from srft.pipeline.run import RunResult, prepare_demo, run_demo

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, tiny_student: Path) -> RunResult:
    folder = tmp_path_factory.mktemp("demo")
    config_path = prepare_demo(folder)
    config = yaml.safe_load(config_path.read_text())
    config["toy"]["episodes"] = 12
    config["toy"]["rollout"] = {"episodes": 3, "step_limit": 2, "max_new_tokens": 12}
    config["handoff"] = {"enabled": True, "subset": "lite", "workers": 2}
    config["policies"] = ["sft", "srft"]
    config["train"] = {
        "model": str(tiny_student),
        "options": {
            "max_steps": 1,
            "full": True,
            "per_device_train_batch_tokens": 4096,
            "progress": False,
        },
    }
    config_path.write_text(yaml.safe_dump(config))
    return run_demo(folder, log=lambda m: None)


def test_the_demo_runs_from_toy_generation_to_the_report(demo: RunResult) -> None:
    assert demo.ran[0] == "generate" and demo.ran[-1] == "report"
    assert demo.report is not None and demo.report.exists()


def test_every_model_of_the_demo_is_rolled_out_on_the_same_fresh_episodes(demo: RunResult) -> None:
    assert {"rollout/base", "rollout/sft", "rollout/srft"} <= set(demo.ran)
    results = {
        name: json.loads((demo.run_dir / "rollout" / f"{name}.json").read_text())
        for name in ("base", "sft", "srft")
    }
    greedy = {name: r["modes"]["greedy"]["students"][name] for name, r in results.items()}
    assert {r["episodes"] for r in results.values()} == {3}
    assert all(len(g["outcomes"]) == 3 and g["mean_steps"] <= 2 for g in greedy.values())
    assert list(results["sft"]["modes"]) == ["greedy"]


def test_with_handoff_enabled_every_student_gets_its_swe_bench_commands(demo: RunResult) -> None:
    for row in ("sft", "srft"):
        h = json.loads((demo.run_dir / "handoff" / row / "handoff.json").read_text())
        assert h["model_dir"] == str((demo.run_dir / "runs" / row / "model").resolve())
        assert h["subset"] == "lite" and h["workers"] == 2 and not h["merged"]
        assert "vllm serve" in h["commands"]["serve"]


def test_the_demo_trajectories_have_earned_outcomes_of_both_kinds(demo: RunResult) -> None:
    outcomes = {
        json.loads(line)["outcome"]["status"]
        for line in (demo.run_dir / "corpus.jsonl").read_text().splitlines()
    }
    assert outcomes == {"resolved", "unresolved"}


def test_the_demo_report_opens_in_a_browser_without_errors(demo: RunResult) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    shots = PROJECT_ROOT / "test-output" / "pipeline"
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        assert demo.report is not None
        page.goto(demo.report.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(shots / "demo-report.png"), full_page=False)
        text = page.inner_text("body")
        browser.close()
    assert errors == []
    assert "srft" in text and "sft" in text
    assert "Closed loop: the students as agents" in text
    assert "Agent evaluation (hand-off)" in text
