"""Ratchet: GitOps for machine-learning models."""
