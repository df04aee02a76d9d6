"""The README's demo numbers are the benchmark script's own output line, with its command."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def demo_time_module():
    spec = importlib.util.spec_from_file_location("demo_time", ROOT / "benchmarks" / "demo_time.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_scripts_summary_line_has_the_form_the_docs_quote():
    bench = demo_time_module()
    line = bench.SUMMARY.format(caches="warm caches", wall=71.94, cpu=104.2, rss=1.123, cores=2)
    assert bench.SUMMARY_PATTERN.fullmatch(line)


def test_the_readme_quotes_the_scripts_line_for_warm_and_cold_caches_and_the_command():
    bench = demo_time_module()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = {m.group(1): m for m in bench.SUMMARY_PATTERN.finditer(readme)}
    assert set(quoted) == {"warm caches", "cold caches"}
    assert "python benchmarks/demo_time.py" in readme
    assert "python benchmarks/demo_time.py --cold" in readme
    assert "docs/benchmarks/demo-time.md" in readme


def test_the_benchmark_page_holds_the_same_lines_as_the_readme():
    bench = demo_time_module()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "benchmarks" / "demo-time.md").read_text(encoding="utf-8")
    in_readme = {m.group(0) for m in bench.SUMMARY_PATTERN.finditer(readme)}
    assert in_readme and in_readme <= {m.group(0) for m in bench.SUMMARY_PATTERN.finditer(page)}
