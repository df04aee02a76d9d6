"""srft: Step Rejection Fine-Tuning for agent trajectories.

The pipeline, one stage per subpackage, files between them:

    corpus (ingest) -> critic -> dataset (build) -> train -> evaluate -> report

The core types most users touch are re-exported here.
"""

from srft.files.corpus import Message, Outcome, Step, ToolCall, Trajectory

__version__ = "0.1.0"
__all__ = ["Message", "Outcome", "Step", "ToolCall", "Trajectory", "__version__"]
