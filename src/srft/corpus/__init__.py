"""Stage 1, trajectories in: the canonical schema, format readers, outcome labels."""
