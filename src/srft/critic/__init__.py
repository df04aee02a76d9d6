"""Stage 2, verdicts: a critic labels every step good / unnecessary / mistake / recover.

The pieces, in the order a run uses them:

- `registry`: `CRITICS` (a `srft.registry.Registry`; entry points `srft.critics`),
  `get_critic(name, **options)`, `critic_options(name)`; the `Critic` (offline, `judge`) and
  `AsyncCritic` (`ajudge`) protocols;
- `rules` (offline rule critic), `file` (labels made elsewhere), `llm` (any OpenAI-compatible
  server);
- `prompt` (template, hindsight, truncation, modes, answer schema and validation), `tokens`;
- `client` (HTTP: structured-output negotiation, retries, rate limits), `store` (SQLite answers
  and verdicts, for resuming), `batch` (OpenAI Batch JSONL out and in);
- `run.run_critic` (the entry point: corpus file in, verdicts file and summary out);
- `quality` (`critic-eval`, `critic-bench`), `vote` (`critic-vote`).

The files it reads and writes are described in `srft.files`: `corpus`, `verdicts`,
`critic_summary` and `critic_quality`.
"""
