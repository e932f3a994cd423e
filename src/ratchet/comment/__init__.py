"""The PR comment: the job that holds the write token. It checks the PR check's artifact as data,
makes the report inert (no mention, no cross-reference), and has CML post it through a relay that
allows our one comment only. Standard library only: it runs on the system Python, no install."""
