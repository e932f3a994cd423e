"""Releases: the tag check, the bento and its image, the smoke test, the GitHub Release and the
MLflow alias."""
