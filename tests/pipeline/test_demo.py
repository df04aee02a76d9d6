"""The embedded demo's path: toy trajectories -> rules critic -> students -> report that opens.

The shipped demo trains SmolLM2-135M for a few steps (measured by benchmarks/demo_time.py). Here the
same demo folder is prepared and then edited the way a user would (a tiny student, fewer
episodes, one step), which runs every stage of the demo's graph in seconds and checks the
report in a real headless browser.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from srft.pipeline.run import RunResult, prepare_demo, run_demo

pytest.importorskip("srft.toy", reason="the demo plays in the toy environment (srft/toy/)")
pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, tiny_student: Path) -> RunResult:
    """The shipped demo (its policies, critic, true-label row, no rollouts) with a tiny student."""
    folder = tmp_path_factory.mktemp("demo")
    config_path = prepare_demo(folder)
    config = yaml.safe_load(config_path.read_text())
    config["environment"]["settings"]["episodes"] = 12
    config["handoff"] = {"enabled": True, "subset": "lite", "workers": 2}
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


@pytest.fixture(scope="module")
def demo_with_rollouts(demo: RunResult, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """A copy of the demo folder with the closed loop switched on, as a user would on a bigger
    config: only the rollouts (and what reads them) run."""
    folder = tmp_path_factory.mktemp("demo-rollouts") / "demo"
    shutil.copytree(demo.run_dir.parent, folder)
    config_path = folder / "demo.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["environment"]["rollout"] = {"episodes": 3, "step_limit": 2, "max_new_tokens": 12}
    config_path.write_text(yaml.safe_dump(config))
    return run_demo(folder, log=lambda m: None)


def test_the_demo_runs_from_toy_generation_to_the_report(demo: RunResult) -> None:
    assert demo.ran[0] == "generate" and demo.ran[-1] == "report"
    assert demo.report is not None and demo.report.exists()


def test_the_shipped_demo_scores_its_critic_against_the_true_labels(demo: RunResult) -> None:
    quality = json.loads((demo.run_dir / "critic-quality.json").read_text())
    steps = sum(
        len(json.loads(line)["steps"])
        for line in (demo.run_dir / "corpus.jsonl").read_text().splitlines()
    )
    assert quality["steps"] == steps
    assert set(quality["per_label"]) == {"good", "unnecessary", "mistake", "recover"}
    assert not any(key.startswith("rollout/") for key in demo.ran)


def test_the_true_label_row_masks_the_true_mistakes_the_critic_missed(demo: RunResult) -> None:
    import pyarrow.parquet as pq

    def masked(row: str) -> int:
        rows = pq.read_table(demo.run_dir / "datasets" / row / "data.parquet").to_pylist()
        return sum(not s["trained"] for r in rows for s in r["steps"])

    truth = [json.loads(line) for line in (demo.run_dir / "split/train.truth.verdicts.jsonl")
             .read_text().splitlines()]  # fmt: skip
    assert truth and all(v["critic"]["name"] == "file" for v in truth)
    assert masked("srft-truth") != masked("srft")


def test_every_model_rolled_out_plays_the_same_fresh_episodes(
    demo_with_rollouts: RunResult,
) -> None:
    demo = demo_with_rollouts
    assert set(demo.ran) >= {"rollout/base", "rollout/sft", "rollout/srft", "report"}
    assert not any(key.startswith(("train/", "build/", "critic", "eval/")) for key in demo.ran)
    results = {
        name: json.loads((demo.run_dir / "rollout" / f"{name}.json").read_text())
        for name in ("base", "sft", "srft")
    }
    greedy = {name: r["modes"]["greedy"]["students"][name] for name, r in results.items()}
    assert {r["episodes"] for r in results.values()} == {3}
    assert {r["format"] for r in results.values()} == {"srft.rollouts"}
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


# The ids (or first header) of the tables whose every percentage cell reads 0.0%.
ALL_ZERO_TABLES = """() => Array.from(document.querySelectorAll("table")).filter(t => {
  const cells = Array.from(t.querySelectorAll("td")).map(c => c.innerText.trim())
    .filter(x => /^-?[0-9.]+%/.test(x));
  return cells.length > 0 && cells.every(x => /^0\\.0%/.test(x));
}).map(t => t.id || t.querySelector("th").innerText)"""


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
        critic_table = page.inner_text("#critic-quality-table")
        all_zero_tables = page.evaluate(ALL_ZERO_TABLES)
        browser.close()
    assert errors == []
    assert "srft" in text and "srft-truth" in text
    assert "The critic against the truth" in text
    assert "mistake" in critic_table
    # No closed-loop table at the demo's scale, and no table whose every percentage is 0%.
    assert "Closed loop: the students as agents" not in text
    assert all_zero_tables == []
    assert "Agent evaluation (hand-off)" in text
