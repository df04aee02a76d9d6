"""Stage 3, masked training data: policies, chat-template rendering, exact loss masks.

- `policies`: which trajectories are kept and which steps trained (`sft`, `rft`, `srft`, ...);
- `render`: the chat template renders a trajectory once; where each assistant turn lands;
- `encoder`: one trajectory and its decision to one verified row (tokenize once, label);
- `workers`: corpus lines to rows, in the build's process or in worker processes;
- `build`: count, check and write the dataset folder (`build_dataset`); `rows`: its Parquet
  and `hf/` files;
- `stats`: what was kept, trained and masked; `export`: axolotl / LLaMA-Factory / TRL files.
"""
