"""Evaluation helpers: resize policy, metric bookkeeping, comparison report, paper analyses."""
