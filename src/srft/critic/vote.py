"""Several judgements of the same steps combined into one label with a confidence.

The LLM critic's `--samples K` asks each request K times; `srft critic-vote` combines verdict
files made by different critics or runs. Both vote the same way: a step's label is the majority
of the judgements that labelled it, its `confidence` the share that agree, its `votes` the count
per label. A tie goes to the earliest judgement among the tied labels (the first sample is the
one a single-sample run would have asked; the first file is the one named first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srft.files.verdicts import VERDICTS, StepVerdict, Verdict, VerdictError, load_verdicts


def vote_step(judgements: Sequence[StepVerdict]) -> StepVerdict:
    """One step's majority label over `judgements` (at least one), with confidence and votes.

    A judgement that already carries votes (a sampled verdict) counts with all of them."""
    votes: Counter[str] = Counter()
    for j in judgements:
        votes.update(j.votes or {j.label: 1})
    top = max(votes.values())
    winner = next(j for j in judgements if votes[j.label] == top)
    return winner.model_copy(
        update={
            "confidence": round(top / sum(votes.values()), 4),
            "votes": dict(sorted(votes.items())),
        }
    )


def vote_files(paths: Sequence[str | Path], output: str | Path) -> dict[str, Any]:
    """Combine verdict files step by step into `output`; return counts.

    A trajectory is `ok` when at least one file judged it; its steps are voted over the files
    that did. One that no file judged stays `failed` with the first file's error. Trajectories
    are written in the first file's order, then any only in later files. A trajectory whose
    step count differs between files is an error naming both files."""
    if len(paths) < 2:
        raise ValueError("critic-vote needs at least two verdict files")
    files = [(Path(p), load_verdicts(p)) for p in paths]
    order: list[str] = []
    for _, verdicts in files:
        order.extend(tid for tid in verdicts if tid not in order)
    out: list[Verdict] = []
    ok = failed = 0
    for tid in order:
        present = [(p, v[tid]) for p, v in files if tid in v]
        judged = [(p, v) for p, v in present if v.status == "ok"]
        if not judged:
            out.append(present[0][1])
            failed += 1
            continue
        n = len(judged[0][1].steps)
        for p, v in judged[1:]:
            if len(v.steps) != n:
                raise VerdictError(
                    f"{p}: trajectory {tid!r} has {len(v.steps)} steps, {judged[0][0]} has {n}"
                )
        steps = [vote_step([v.steps[i] for _, v in judged]) for i in range(n)]
        first = judged[0][1]
        out.append(first.model_copy(update={"steps": steps, "usage": {}}))
        ok += 1
    VERDICTS.write(output, out)
    return {"files": len(files), "trajectories": len(out), "ok": ok, "failed": failed}
