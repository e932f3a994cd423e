"""The merge gate: the verdict on a pull request's model, its report, and the one PR comment."""
