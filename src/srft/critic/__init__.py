"""Stage 2, verdicts: a critic labels every step good / unnecessary / mistake / recover."""
