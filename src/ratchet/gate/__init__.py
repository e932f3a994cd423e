"""The merge gate: the verdict on a pull request's model and its report (`comment/` posts it)."""
