"""Stage 5, evaluation: held-out NLL per step label; the agent-evaluation hand-off.

Entry points: `srft.evaluate.nll.evaluate_nll(dataset_dir, {name: model}, output)` writes
`eval.json` (`srft.eval` v1); `srft.evaluate.handoff.write_handoff(run_dir, model_dir, name=)`
writes the vLLM + mini-swe-agent + SWE-bench harness commands. See `docs/evaluate.md`.
torch and transformers are imported only when these are called.
"""
