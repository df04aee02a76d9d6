"""CLI commands of the critic stage: `srft critic`, `srft critic-eval`, `srft critic-bench`."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from srft.files.critic_summary import summary_path
from srft.outputs import overwrite_option
from srft.shard import Shard, shard_option

F = TypeVar("F", bound=Callable[..., Any])


def _llm(kind: Any, default: Any, help: str, *flag: str, **limits: Any) -> tuple[Any, Any]:
    """One flag of the llm critic: its type and typer option (its help says `llm:`)."""
    return kind, typer.Option(default, *flag, help=f"llm: {help}", **limits)


# `srft critic`'s flags for the llm critic, by the `build_llm_critic` setting each one sets.
# `with_flags` adds them to the command as if written in its signature, so the command reads
# as a short function and its llm flags as one list.
LLM_FLAGS: dict[str, tuple[Any, Any]] = {
    "base_urls": _llm(
        list[str], [], "Server URL ending in /v1; repeat to spread load.", "--base-url"
    ),
    "model": _llm(str | None, None, "Model name the server knows."),
    "api_key_env": _llm(str, "OPENAI_API_KEY", "Environment variable holding the API key."),
    "mode": _llm(str, "whole", "whole | window | per-step"),
    "concurrency": _llm(int, 8, "Requests in flight at once.", min=1),
    "max_prompt_tokens": _llm(int, 100_000, "Prompt budget per request.", min=256),
    "max_text_tokens": _llm(int, 4_000, "Cut long texts to this in window/per-step mode.", min=16),
    "window_overlap": _llm(int, 2, "Earlier steps shown as context per window.", min=0),
    "max_window_steps": _llm(int, 50, "At most this many steps labelled per window.", min=1),
    "max_reason_chars": _llm(
        int, 300, "Longest reason asked for (enforced by grammar-based servers).", min=10
    ),
    "prompt_dir": _llm(Path | None, None, "Folder with your own system.j2 and user.j2."),
    "outcome": _llm(bool, True, "Show the run's outcome.", "--outcome/--no-outcome"),
    "patch": _llm(bool, True, "Show the submitted patch.", "--patch/--no-patch"),
    "evaluation": _llm(bool, True, "Show the evaluation result.", "--evaluation/--no-evaluation"),
    "reference_patches": _llm(Path | None, None, "instance id -> gold patch (JSON or JSONL)."),
    "max_reasks": _llm(
        int, 2, "Re-asks (for the missing steps only) after an invalid answer.", min=0
    ),
    "temperature": _llm(
        float | None, None, "Sampling temperature (default 0, or 0.7 with --samples > 1)."
    ),
    "samples": _llm(
        int, 1, "Ask K times; each step's label is the majority, with confidence.", min=1
    ),
    "answer_order": _llm(
        str, "reason-first", "reason-first | label-first (property order of the answer)."
    ),
    "max_tokens": _llm(int, 8192, "Cap on completion tokens per request.", min=16),
    "tokens_per_step": _llm(int, 100, "Completion tokens allowed per labelled step.", min=8),
    "timeout": _llm(float, 300.0, "Seconds before a request is abandoned and retried."),
    "max_retries": _llm(
        int, 6, "Retries on 408/409/429/5xx, timeouts, dropped connections.", min=0
    ),
    "requests_per_minute": _llm(float | None, None, "Request rate limit.", "--requests-per-minute"),
    "tokens_per_minute": _llm(
        float | None,
        None,
        "Token rate limit (prompt estimate + max_tokens).",
        "--tokens-per-minute",
    ),
    "response_format": _llm(str, "auto", "auto | json_schema | json_object | plain"),
    "tokenizer": _llm(Path | None, None, "tokenizer.json (or folder) to count tokens exactly."),
    "chars_per_token": _llm(float, 4.0, "Token estimate without --tokenizer."),
    "emit_batch": _llm(
        Path | None, None, "Write missing requests as OpenAI Batch JSONL instead of sending."
    ),
}


def with_flags(flags: dict[str, tuple[Any, Any]]) -> Callable[[F], F]:
    """Add `flags` (name -> (type, typer option)) to a command's parameters, as keyword
    arguments that its `**kwargs` receives: typer reads the command's signature, and this is
    the signature it would have with each flag written out."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
            for name, (kind, option) in flags.items()
        ]
        command.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        return command

    return decorate


@with_flags(LLM_FLAGS)
def critic(
    corpus: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Corpus JSONL (srft.corpus)."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Verdicts JSONL to write."),
    critic: str = typer.Option("rules", "--critic", help="rules | file | llm | published"),
    labels_from: Path | None = typer.Option(None, help="file: Labels JSONL made elsewhere."),
    retry_failed: bool = typer.Option(
        True,
        "--retry-failed/--no-retry-failed",
        help="Judge again the trajectories that failed in an earlier run of the same command.",
    ),
    cache: Path | None = typer.Option(
        None, help="llm: SQLite store (default: critic-cache.sqlite beside the output)."
    ),
    batch_output: Path | None = typer.Option(
        None, help="llm: Import an OpenAI Batch output file first."
    ),
    price_prompt: float | None = typer.Option(None, help="USD per million prompt tokens."),
    price_completion: float | None = typer.Option(None, help="USD per million completion tokens."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    overwrite: bool = overwrite_option(),
    shard: Shard | None = shard_option(
        "K/N: judge only every N-th trajectory, starting at the K-th (0-based); the N outputs "
        "together hold the verdicts of one run. Give each shard its own --cache."
    ),
    **llm: Any,
) -> None:
    """Label every step of every trajectory: good / unnecessary / mistake / recover.

    Writes OUTPUT (srft.verdicts JSONL) and OUTPUT's `.summary.json`. The llm critic keeps every
    answer in a SQLite store as it arrives: rerun the same command after a crash to finish, or
    to retry the trajectories that failed.

    Exit status: 0 every trajectory judged; 3 some failed (the verdicts file is written, failed
    ones marked); 1 none judged, or bad input; 2 the server cannot be used (unreachable, key
    refused, wrong path or model: nothing is written or stored).
    """
    from srft.critic.run import EXIT_STATUS

    summary = _run(
        corpus,
        output,
        critic,
        cache_path=cache,
        batch_output=batch_output,
        prices=_prices(price_prompt, price_completion),
        progress=progress,
        retry_failed=retry_failed,
        overwrite=overwrite,
        shard=shard,
        **_critic_options(critic, labels_from, llm),
    )
    _echo_summary(summary, output)
    if summary.get("verdicts_written", True):
        raise typer.Exit(EXIT_STATUS[summary["outcome"]])


def _critic_options(critic: str, labels_from: Path | None, llm: dict[str, Any]) -> dict[str, Any]:
    """The options of the critic named `critic`, from the flags that concern it."""
    from srft.critic.registry import critic_names

    if critic == "file":
        if labels_from is None:
            raise typer.BadParameter("--critic file needs --labels-from PATH")
        return {"labels_from": labels_from}
    if critic == "llm":
        if not llm["base_urls"] or not llm["model"]:
            raise typer.BadParameter("--critic llm needs --base-url and --model")
        return llm
    if critic not in critic_names():
        raise typer.BadParameter(f"unknown critic {critic!r}; known: {', '.join(critic_names())}")
    return {}


def _prices(prompt: float | None, completion: float | None) -> tuple[float, float] | None:
    """USD per million (prompt, completion) tokens, when either is given."""
    if prompt is None and completion is None:
        return None
    return (prompt or 0.0, completion or 0.0)


def _run(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """`run_critic`, its failures turned into one error line and the documented exit status."""
    from srft.critic.client import ServerUnusable
    from srft.critic.run import run_critic

    try:
        return run_critic(*args, **kwargs)
    except ServerUnusable as e:
        typer.echo(f"srft critic: error: the server cannot be used: {e}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as e:  # FileFormatError, CorpusError, VerdictError: ValueErrors
        _fail(e)
    except KeyboardInterrupt:
        typer.echo(
            "srft critic: interrupted; every answer received so far is stored, run the same "
            "command again to finish",
            err=True,
        )
        raise typer.Exit(130) from None


def _echo_summary(summary: dict[str, Any], output: Path) -> None:
    """The counts, labels and (llm) requests of a run, then its failures."""
    t = summary["trajectories"]
    typer.echo(
        f"{t['read']} trajectories: {t['ok']} ok, {t['failed']} failed; labels "
        f"{json.dumps(summary['labels'])}; summary: {summary_path(output)}"
    )
    if "requests" in summary:
        r = summary["requests"]
        typer.echo(
            f"requests {r.get('requests', 0)}, retries {r.get('retries', 0)}, cache hits "
            f"{r.get('cache_hits', 0)}, prompt tokens {r.get('prompt_tokens', 0)}, completion "
            f"tokens {r.get('completion_tokens', 0)}"
            + (f", cost ${summary['cost_usd']:.4f}" if "cost_usd" in summary else "")
        )
        if r.get("batch_file"):
            typer.echo(f"{r['batch_requests_written']} requests written to {r['batch_file']}")
    _echo_failures(summary)


def _echo_failures(summary: dict) -> None:
    """Failures per reason with the first example of each, and what to do next."""
    reasons = summary.get("failure_reasons") or {}
    if not reasons:
        return
    typer.echo(f"failed trajectories by reason ({summary['trajectories']['failed']} in all):")
    for kind, entry in reasons.items():
        first = entry["first"]
        typer.echo(
            f"  {kind}: {entry['count']}; first: {first['trajectory_id']}: {first['error'][:300]}"
        )
    if summary.get("invalid_answers_file"):
        typer.echo(f"answers that could not be used: {summary['invalid_answers_file']}")
    if "cache" in summary:
        typer.echo("run the same command again to retry the failed ones (--no-retry-failed: keep)")


def _fail(error: Exception) -> NoReturn:
    """Report bad input (the message names file, record and reason) without a traceback."""
    typer.echo(f"srft critic: error: {error}", err=True)
    raise typer.Exit(1)


def critic_status(
    cache: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="The critic's SQLite store (critic-cache.sqlite)."
    ),
    corpus: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="Corpus JSONL: also count what is pending."
    ),
) -> None:
    """What a critic store holds, per job (one job = one set of critic settings): trajectories
    judged, failed per reason (with the first example), and with --corpus those still pending."""
    from srft.critic.run import critic_status as status

    try:
        jobs = status(cache, corpus)
    except (ValueError, OSError) as e:
        _fail(e)
    if not jobs:
        typer.echo(f"{cache}: no verdicts stored")
    for entry in jobs:
        pending = f", pending {entry['pending']}" if "pending" in entry else ""
        typer.echo(
            f"job {entry['job'][:12]}: judged {entry['judged']}, failed {entry['failed']}{pending}"
        )
        for kind, reason in entry["reasons"].items():
            first = reason["first"]
            typer.echo(
                f"  {kind}: {reason['count']}; first: {first['trajectory_id']}: "
                f"{(first['error'] or '')[:200]}"
            )


def critic_eval(
    pred: Path = typer.Option(..., exists=True, dir_okay=False, help="Predicted verdicts JSONL."),
    gold: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="Gold labels (verdicts or labels JSONL)."
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the report as JSON."),
) -> None:
    """Agreement of a critic with gold labels: per-label P/R/F1, mistake-vs-rest F1, confusion."""
    from srft.critic.quality import evaluate_critic

    try:
        report = evaluate_critic(pred, gold)
    except (ValueError, OSError) as e:
        _fail(e)
    if output:
        from srft.files.critic_quality import CRITIC_QUALITY

        CRITIC_QUALITY.write(output, report)
    m = report["mistake_vs_rest"]
    typer.echo(
        f"steps {report['steps']} (unjudged {report['unjudged_steps']}), accuracy "
        f"{report['accuracy']:.3f}; mistake-vs-rest P {m['precision']:.3f} R "
        f"{m['recall']:.3f} F1 {m['f1']:.3f}"
    )
    for label, s in report["per_label"].items():
        typer.echo(
            f"  {label:12s} P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} "
            f"(support {s['support']})"
        )
    cols = list(next(iter(report["confusion"]["matrix"].values())))
    typer.echo("  gold \\ pred  " + " ".join(f"{c[:9]:>9s}" for c in cols))
    for g, row in report["confusion"]["matrix"].items():
        typer.echo(f"  {g:12s} " + " ".join(f"{row[c]:9d}" for c in cols))
    if "calibration" in report:
        _echo_calibration(report["calibration"])


def _echo_calibration(cal: dict) -> None:
    """The reliability table and the mistake masking by confidence threshold."""
    typer.echo(
        f"calibration ({cal['steps']} steps with a confidence; expected calibration error "
        f"{cal['ece']:.3f}):"
    )
    typer.echo("  confidence     steps  mean conf  accuracy  mistake P      R     F1")
    for b in cal["buckets"]:
        m = b["mistake"]
        typer.echo(
            f"  {b['range']:12s} {b['steps']:7d} {b['mean_confidence']:10.3f} "
            f"{b['accuracy']:9.3f} {m['precision']:9.3f} {m['recall']:6.3f} {m['f1']:6.3f}"
        )
    typer.echo("  masking mistakes with confidence >= t (srft build --option min_confidence=t):")
    typer.echo("  t          masked  precision  recall     F1")
    for row in cal["mistake_by_min_confidence"]:
        typer.echo(
            f"  {row['min_confidence']:<9.3f} {row['masked']:7d} {row['precision']:10.3f} "
            f"{row['recall']:7.3f} {row['f1']:6.3f}"
        )


def critic_vote(
    verdicts: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help="Two or more verdict files of the same corpus."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Combined verdicts JSONL."),
) -> None:
    """Combine verdict files (other critics, other runs) into one: each step's label is the
    majority, with its confidence (agreement) and votes, as `srft critic --samples K` writes."""
    from srft.critic.vote import vote_files

    try:
        result = vote_files(verdicts, output)
    except (ValueError, OSError) as e:
        _fail(e)
    typer.echo(json.dumps(result))


def critic_bench(
    corpus: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Corpus JSONL with resolved trajectories."
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Benchmark corpus JSONL (gold beside it)."
    ),
    steps_per_trajectory: int = typer.Option(2, min=1, help="Steps corrupted per trajectory."),
    seed: int = typer.Option(0, help="Random seed for choosing steps and corruptions."),
    include_unknown: bool = typer.Option(False, help="Also use trajectories of unknown outcome."),
) -> None:
    """Make a benchmark with known answers: corrupt chosen steps of resolved trajectories."""
    from srft.critic.quality import make_bench

    try:
        result = make_bench(
            corpus,
            output,
            steps_per_trajectory=steps_per_trajectory,
            seed=seed,
            include_unknown=include_unknown,
        )
    except (ValueError, OSError) as e:
        _fail(e)
    typer.echo(json.dumps(result))


def register(app: typer.Typer) -> None:
    """Add this stage's subcommands to `app`."""
    app.command("critic")(critic)
    app.command("critic-status")(critic_status)
    app.command("critic-eval")(critic_eval)
    app.command("critic-vote")(critic_vote)
    app.command("critic-bench")(critic_bench)
