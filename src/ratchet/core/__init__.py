"""What every part of Ratchet shares: params, the data schema, data checks, paths, git, errors.

Nothing here imports another part of Ratchet, and nothing here trains, serves or posts.
"""
