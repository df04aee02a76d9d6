"""The files between the stages: one module per versioned file, each its model, format and I/O.

The ground floor of srft: every stage reads and writes its inputs and outputs through these
modules, and this package imports no stage (an import-linter contract in pyproject.toml).
`srft.files.base` holds the two shapes a file takes (`JsonDocument`, `JsonLines`) and the one
error a malformed file becomes (`FileFormatError`, naming path, line and reason).
"""

from srft.files.base import FileFormatError, JsonDocument, JsonLines

__all__ = ["FileFormatError", "JsonDocument", "JsonLines"]
