"""GitHub: the Actions run a command is part of, and its REST API, Ratchet's one GitHub client.
Standard library only, so that the jobs that hold write tokens run it with the system Python and
no install."""
