"""The throughput benchmark's CPU smoke mode runs all three paths end to end (no timing claims)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"


@pytest.mark.slow
def test_the_cpu_smoke_mode_runs_plain_hf_trl_and_srft(tmp_path, capsys):
    import json

    spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--cpu", "--json", str(tmp_path / "out.json")]) == 0
    results = json.loads((tmp_path / "out.json").read_text())["results"]
    assert [r["path"][:3] for r in results] == ["(a)", "(b)", "(c)", "(c)"]
    assert all(r["tokens_per_s"] > 0 for r in results)
    assert "x (b)" in capsys.readouterr().out
