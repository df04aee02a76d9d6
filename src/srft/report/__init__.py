"""Stage 6, the static HTML report.

Entry point: `srft.report.build.write_report(output_html, corpus=..., verdicts=...,
datasets={policy: dir}, runs={policy: dir}, eval_json=..., handoffs=..., settings=...)`.
The page is `template.html` + `report.css` + `report.js` + the data as JSON, in one file that
works offline. See `docs/report.md`.
"""
