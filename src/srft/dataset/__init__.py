"""Stage 3, masked training data: policies, chat-template rendering, exact loss masks.

- `policies`: which trajectories are kept and which steps trained (`sft`, `rft`, `srft`, ...);
- `render`: the chat template renders a trajectory once; where each assistant turn lands;
- `build`: tokenize once, label, verify, write the dataset folder (`build_dataset`);
- `stats`: what was kept, trained and masked; `export`: axolotl / LLaMA-Factory / TRL files.
"""
