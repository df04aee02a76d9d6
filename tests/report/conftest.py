"""Report inputs built in code (trajectories, verdicts, two policies' datasets and runs, an
eval.json), the report rendered from them once, and a real headless Chromium to open it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from srft.files.corpus import Message, Outcome, Source, ToolCall, Trajectory
from srft.files.verdicts import CriticInfo, StepVerdict, Verdict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ROLLOUT_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "rollouts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Both would run if the report ever inserted trajectory text as HTML.
SCRIPT_PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _trajectory(tid: str, status: str, actions: list[tuple[str, str, int]]) -> Trajectory:
    """A mini-swe-agent-style trajectory: each action is (thought, command, exit code)."""
    messages = [
        Message(role="system", content="You are a helpful assistant that can run bash."),
        Message(role="user", content=f"Fix the bug in task {tid}: the parser drops the last line."),
    ]
    for thought, command, code in actions:
        messages.append(
            Message(role="assistant", content=f"THOUGHT: {thought}\n\n```bash\n{command}\n```")
        )
        messages.append(
            Message(
                role="user",
                content=f"<returncode>{code}</returncode>\n<output>{command} ran</output>",
                exit_code=code,
            )
        )
    return Trajectory.from_messages(
        id=tid,
        instance_id=f"demo__{tid}",
        source=Source(format="mini-swe-agent-1", file=f"{tid}.traj.json", record="0"),
        outcome=Outcome(status=status, source="test"),
        messages=messages,
    )


def _tool_trajectory() -> Trajectory:
    """An OpenAI tool-call trajectory whose observation carries a script payload."""
    messages = [
        Message(role="user", content="Render the page template."),
        Message(
            role="assistant",
            content="Let me look at the template.",
            tool_calls=[ToolCall(id="c1", name="bash", arguments={"command": "cat page.html"})],
        ),
        Message(role="tool", tool_call_id="c1", content=f"<html>{SCRIPT_PAYLOAD}</html>"),
        Message(
            role="assistant",
            content="Done.",
            tool_calls=[ToolCall(id="c2", name="submit", arguments={})],
        ),
        Message(role="tool", tool_call_id="c2", content="submitted"),
    ]
    return Trajectory.from_messages(
        id="xss-probe",
        source=Source(format="openai-messages", file="x.jsonl", record="1"),
        outcome=Outcome(status="unresolved"),
        messages=messages,
    )


def corpus() -> list[Trajectory]:
    """Five trajectories: two resolved, three unresolved (one of them with a script payload)."""
    return [
        _trajectory(
            "alpha",
            "resolved",
            [
                ("look around", "ls", 0),
                ("open file", "cat parser.py", 0),
                ("fix it", "sed -i s/a/b/ parser.py", 0),
            ],
        ),
        _trajectory("bravo", "resolved", [("run tests", "pytest", 1), ("fix", "vim x", 0)]),
        _trajectory(
            "charlie",
            "unresolved",
            [
                ("guess", "rm -rf build", 0),
                ("typo", "pyhton x.py", 127),
                ("recover", "python x.py", 0),
                ("again", "ls", 0),
            ],
        ),
        _trajectory("delta", "unresolved", [("search needle-in-haystack", "grep -r needle .", 1)]),
        _tool_trajectory(),
    ]


LABELS = {
    "alpha": ["good", "good", "good"],
    "bravo": ["good", "good"],
    "charlie": ["unnecessary", "mistake", "recover", "good"],
    "delta": ["mistake"],
    "xss-probe": ["good", "good"],
}


def verdicts() -> dict[str, Verdict]:
    """Verdicts of the rules critic for every trajectory; reasons carry markup too."""
    out = {}
    for tid, labels in LABELS.items():
        out[tid] = Verdict(
            trajectory_id=tid,
            critic=CriticInfo(name="rules"),
            steps=[
                StepVerdict(index=i, label=lab, reason=f"<b>{lab}</b> step {i}")
                for i, lab in enumerate(labels)
            ],
        )
    return out


def _rows(policy: str, trajectories: list[Trajectory]) -> list[dict[str, Any]]:
    rows = []
    for t in trajectories:
        if policy == "rft" and t.outcome.status != "resolved":
            continue
        steps, position = [], 20
        for i, label in enumerate(LABELS[t.id]):
            trained = not (
                policy == "srft" and t.outcome.status != "resolved" and label == "mistake"
            )
            steps.append(
                {
                    "index": i,
                    "start": position,
                    "end": position + 10,
                    "trained": trained,
                    "label": label,
                }
            )
            position += 30
        n = position
        ids = [(7 * k) % 50 for k in range(n)]
        labels = [-100] * n
        for s in steps:
            if s["trained"]:
                labels[s["start"] : s["end"]] = ids[s["start"] : s["end"]]
        rows.append(
            {
                "trajectory_id": t.id,
                "instance_id": t.instance_id,
                "outcome": t.outcome.status,
                "policy": policy,
                "input_ids": ids,
                "labels": labels,
                "steps": steps,
                "num_tokens": n,
                "num_trained": sum(1 for x in labels if x != -100),
            }
        )
    return rows


def write_inputs(folder: Path) -> dict[str, Any]:
    """Write datasets, runs and eval.json for the policies `sft`, `rft` and `srft`, and the
    agent-evaluation hand-off of the `srft` student."""
    import datasets

    trajectories = corpus()
    dataset_dirs, run_dirs = {}, {}
    for k, policy in enumerate(("sft", "rft", "srft")):
        d = folder / "datasets" / policy
        d.mkdir(parents=True)
        datasets.Dataset.from_list(_rows(policy, trajectories)).to_parquet(str(d / "data.parquet"))
        dataset_dirs[policy] = d
        r = folder / "runs" / policy
        r.mkdir(parents=True)
        with (r / "metrics.jsonl").open("w") as f:
            for step in range(1, 21):
                f.write(
                    json.dumps({"step": step, "loss": 2.5 / (1 + 0.1 * step * (k + 1)), "lr": 1e-4})
                    + "\n"
                )
        run_dirs[policy] = r
    eval_json = {
        "format": "srft.eval",
        "version": 1,
        "dataset": {
            "path": "held-out",
            "rows_read": 5,
            "rows_evaluated": 5,
            "rows_skipped": 0,
            "skipped": [],
        },
        "models": {
            name: {
                "path": name,
                "rows": 5,
                "overall": {"nll_per_token": 1.0 + shift, "tokens": 120, "steps": 12},
                "by_label": {
                    lab: {
                        "nll_per_token": base + shift * (2 if lab == "mistake" else -1),
                        "tokens": 10,
                        "steps": 1,
                        "mean_step_nll": base,
                    }
                    for lab, base in {
                        "good": 1.2,
                        "unnecessary": 1.5,
                        "mistake": 2.0,
                        "recover": 1.4,
                    }.items()
                },
            }
            for name, shift in {"base": 0.0, "sft": 0.1, "srft": 0.3}.items()
        },
    }
    from srft.evaluate.handoff import write_handoff

    (folder / "runs" / "srft" / "model").mkdir()
    write_handoff(folder / "runs" / "srft", folder / "runs" / "srft" / "model", name="srft")
    handoffs = {"srft": folder / "runs" / "srft" / "handoff" / "srft"}
    return {
        "datasets": dataset_dirs,
        "runs": run_dirs,
        "eval_json": eval_json,
        "handoffs": handoffs,
        "rollouts": write_rollouts(folder / "rollout"),
    }


def write_rollouts(folder: Path) -> list[Path]:
    """Rollout results, one file per model as the pipeline writes them: a `base` that always
    edits the first grep hit and an `srft` student that plays perfectly, on the same 20 toy
    episodes (tests/fixtures/rollouts/, written by the toy testbed: tests/toy/test_eval.py
    checks it still writes them, so these tests need no toy)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    return [
        Path(shutil.copy(ROLLOUT_FIXTURES / f"{name}.json", folder / f"{name}.json"))
        for name in ("base", "srft")
    ]


@pytest.fixture(scope="session")
def report_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Corpus, verdicts, datasets, runs and eval of the three policies, written once."""
    folder = tmp_path_factory.mktemp("report-inputs")
    return {"corpus": corpus(), "verdicts": verdicts(), **write_inputs(folder)}


@pytest.fixture(scope="session")
def report_html(report_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report rendered from `report_inputs`."""
    from srft.report.build import write_report

    out = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(
        out,
        settings={"policies": ["sft", "rft", "srft"], "critic": {"name": "rules"}},
        title="Test report",
        **report_inputs,
    )


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """`test-output/report/` in the project (gitignored): screenshots people can look at."""
    folder = PROJECT_ROOT / "test-output" / "report"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, headless; skips when either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class OpenedReport:
    """A page with the report loaded, and every console error or page error it raised."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


@pytest.fixture
def opened(browser: Any, report_html: Path) -> Iterator[OpenedReport]:
    """The report opened from file:// in a fresh page, ready (its JS finished)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    opened = OpenedReport(page)
    page.goto(report_html.as_uri())
    page.wait_for_selector("html[data-ready='1']", timeout=10000)
    yield opened
    page.close()
