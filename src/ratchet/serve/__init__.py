"""Serving: the BentoML service, its request contract, prediction, and the model store."""
