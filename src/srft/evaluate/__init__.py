"""Stage 5, evaluation: held-out NLL per step label; the agent-evaluation hand-off."""
