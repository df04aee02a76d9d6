"""`srft run`: the whole pipeline from one config, into one run folder, rerun cheaply.

- `config.py`    the run config schema (`RunConfig`, `load_config`)
- `graph.py`     the generic stage runner: content hashes, skip, resume (`Stage`, `run_stages`)
- `manifest.py`  `manifest.json` (format `srft.run`) and the content hashes
- `stages.py`    the graph a config makes of the stages, declared as data (`build_graph`)
- `actions.py`   what each stage does: a thin call into its stage's API
- `split.py`     the deterministic held-out split by instance id
- `compare.py`   the comparison table (markdown + JSON)
- `run.py`       `run_config`, `run_demo`: the Python API behind `srft run` and `srft demo`
- `reference.py` the generated config reference (`docs/config-reference.md`)
- `demo/`        the embedded demo's config
"""
