"""GitHub: the Actions run a command is part of, its REST API, and the gh CLI. Standard library
only, so that the jobs that hold write tokens run it with the system Python and no install."""
