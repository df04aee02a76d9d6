"""A closed-loop testbed: a toy agent environment, a noisy teacher, rollouts of students.

A plug-in at the edge of srft: it registers the environment `toy` (`srft.toy.environment`) and
the `srft toy ...` commands through entry points in pyproject.toml, and no product package
imports it (import-linter). See docs/toy.md.
"""
