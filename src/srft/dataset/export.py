"""Exports of a built dataset for other trainers: axolotl, LLaMA-Factory, TRL.

Each exporter reads a dataset folder (never the corpus: the dataset already holds the policy's
decisions) and writes one data file plus the config snippet its tool needs
(`docs/dataset.md` shows them). The message exporters carry one train flag per message, taken
from the `steps` column, so the trainer masks the same turns; the TRL export is the token rows
themselves.

Exporters live in the `EXPORTERS` registry (`srft.registry`, entry-point group
`srft.exporters`): adding one is a function `(dataset, manifest, folder) -> {"files", "rows"}`
registered with `@EXPORTERS.register(name)`; a third-party package adds one without editing srft
by declaring, in its pyproject.toml,

    [project.entry-points."srft.exporters"]
    my-trainer = "my_package.export:export_my_trainer"

after which `srft export --to my-trainer` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from srft.dataset.build import BuildError, load_dataset_folder, read_manifest
from srft.dataset.render import tool_call_text
from srft.outputs import OutputError, atomic_folder, check_output
from srft.registry import Registry

Exporter = Callable[[Any, dict[str, Any], Path], dict[str, Any]]
EXPORTERS: Registry[Exporter] = Registry("export target", "srft.exporters", error=BuildError)


def exporter_names() -> list[str]:
    """The registered exporter names, sorted."""
    return EXPORTERS.names()


def export_dataset(
    dataset: Path, to: str, output: Path, *, overwrite: bool = True
) -> dict[str, Any]:
    """Export the dataset folder `dataset` for trainer `to` into the folder `output`.

    `overwrite`: False refuses an existing `output` (the CLI's default). The folder appears
    only when complete (written under a temporary name; the snippets use relative paths).
    Returns what was written (`files`, `rows`).
    """
    if to not in EXPORTERS.names():
        raise BuildError(
            f"unknown export target {to!r}; choose one of {', '.join(exporter_names())}"
        )
    exporter = EXPORTERS.get(to)  # a plug-in that cannot be imported fails here, with the reason
    output = Path(output)
    try:
        check_output(output, kind="folder", overwrite=overwrite)
    except OutputError as e:
        raise BuildError(str(e)) from e
    manifest = {**read_manifest(dataset).model_dump(mode="json"), "_folder": str(dataset)}
    rows = load_dataset_folder(dataset)
    with atomic_folder(output) as folder:
        return exporter(rows, manifest, folder)


def flagged_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The row's chat-template messages, each with `train`: true only for trained steps."""
    messages = json.loads(row["messages"])
    trained = {s["message"] for s in row["steps"] if s["trained"]}
    return [{**m, "train": i in trained} for i, m in enumerate(messages)]


def _rows(dataset: Any) -> Iterator[dict[str, Any]]:
    yield from dataset.select_columns(
        [c for c in ("trajectory_id", "messages", "tools", "steps") if c in dataset.column_names]
    )


def _write_jsonl(path: Path, records: Iterator[dict[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


@EXPORTERS.register("axolotl")
def export_axolotl(dataset: Any, manifest: dict[str, Any], output: Path) -> dict[str, Any]:
    """`data.jsonl` with `messages` (per-message `train` flag) and `tools`, for axolotl's
    `chat_template` strategy with `message_field_training: train`; plus `axolotl.yaml`."""

    def records() -> Iterator[dict[str, Any]]:
        for row in _rows(dataset):
            record: dict[str, Any] = {"id": row["trajectory_id"], "messages": flagged_messages(row)}
            if row.get("tools"):
                record["tools"] = json.loads(row["tools"])
            yield record

    n = _write_jsonl(output / "data.jsonl", records())
    # The exact template the dataset was built with, so axolotl renders the same text.
    template = (Path(manifest["_folder"]) / "chat_template.jinja").read_text(encoding="utf-8")
    (output / "chat_template.jinja").write_text(template, encoding="utf-8")
    snippet = (
        f"# srft export of {manifest['inputs']['corpus']['path']} "
        f"(policy {manifest['policy']['name']}); use the tokenizer the dataset was built with:\n"
        f"# {manifest['tokenizer']['name_or_path']}\n"
        "chat_template: jinja\n"
        # A JSON string is a valid YAML double-quoted scalar: the template, byte for byte.
        f"chat_template_jinja: {json.dumps(template, ensure_ascii=False)}\n"
        "datasets:\n"
        "  - path: data.jsonl\n"
        "    ds_type: json\n"
        "    type: chat_template\n"
        "    field_messages: messages\n"
        "    field_tools: tools\n"
        "    message_field_training: train\n"
        "    roles_to_train: []\n"
        "    train_on_eos: turn\n"
        f"sequence_len: {manifest['max_length']}\n"
    )
    (output / "axolotl.yaml").write_text(snippet, encoding="utf-8")
    return {"files": ["data.jsonl", "axolotl.yaml", "chat_template.jinja"], "rows": n}


_SHAREGPT_ROLE = {"user": "human", "assistant": "gpt", "tool": "observation"}


def sharegpt_conversation(row: dict[str, Any]) -> dict[str, Any]:
    """One row as a LLaMA-Factory sharegpt record with a per-turn `train` flag.

    LLaMA-Factory wants turns alternating human/observation and gpt, so consecutive
    non-assistant messages are joined into one turn, and native tool calls are written in the
    text form (`tool_call_text`) inside the gpt turn.
    """
    system_parts: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in flagged_messages(row):
        if m["role"] == "system" and not turns:
            system_parts.append(m["content"])
            continue
        role = _SHAREGPT_ROLE.get(m["role"], "human")
        value = m.get("content") or ""
        if m["role"] == "assistant":
            if m.get("reasoning_content"):
                value = f"<think>\n{m['reasoning_content']}\n</think>\n\n{value}".rstrip()
            calls = [
                tool_call_text(c["function"]["name"], c["function"]["arguments"])
                for c in m.get("tool_calls") or []
            ]
            value = "\n".join([value, *calls]) if value and calls else value or "\n".join(calls)
        if turns and role != "gpt" and turns[-1]["from"] != "gpt":
            turns[-1]["value"] += "\n" + value
            continue
        turns.append({"from": role, "value": value, "train": bool(m["train"])})
    record: dict[str, Any] = {"id": row["trajectory_id"], "conversations": turns}
    if system_parts:
        record["system"] = "\n".join(system_parts)
    if row.get("tools"):
        record["tools"] = row["tools"]
    return record


@EXPORTERS.register("llamafactory")
def export_llamafactory(dataset: Any, manifest: dict[str, Any], output: Path) -> dict[str, Any]:
    """`data.jsonl` in sharegpt form with a per-turn `train` flag, plus `dataset_info.json`."""
    n = _write_jsonl(output / "data.jsonl", (sharegpt_conversation(r) for r in _rows(dataset)))
    info = {
        "srft": {
            "file_name": "data.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "observation_tag": "observation",
            },
        }
    }
    (output / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return {"files": ["data.jsonl", "dataset_info.json"], "rows": n}


@EXPORTERS.register("trl")
def export_trl(dataset: Any, manifest: dict[str, Any], output: Path) -> dict[str, Any]:
    """`data.parquet` with pre-tokenized `input_ids` and `labels` (TRL's SFTTrainer uses a
    `labels` column as is), plus `trl.py`, the few lines that train on it."""
    dataset.select_columns(["input_ids", "labels"]).to_parquet(str(output / "data.parquet"))
    snippet = (
        '"""Train on an srft export with TRL (labels are used as built)."""\n'
        "from datasets import load_dataset\n"
        "from trl import SFTConfig, SFTTrainer\n\n"
        'train = load_dataset("parquet", data_files="data.parquet", split="train")\n'
        "trainer = SFTTrainer(\n"
        f'    model="{manifest["tokenizer"]["name_or_path"]}",\n'
        "    train_dataset=train,\n"
        f'    args=SFTConfig(output_dir="out", max_length={manifest["max_length"]}, '
        "packing=False),\n"
        ")\n"
        "trainer.train()\n"
    )
    (output / "trl.py").write_text(snippet, encoding="utf-8")
    return {"files": ["data.parquet", "trl.py"], "rows": len(dataset)}
