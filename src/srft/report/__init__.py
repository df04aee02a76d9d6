"""Stage 6, the static HTML report."""
