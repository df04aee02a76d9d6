"""A closed-loop testbed: a toy agent environment, a noisy teacher, rollouts of students."""
