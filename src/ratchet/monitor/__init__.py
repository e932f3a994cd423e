"""Monitoring: drift between the model's inputs and its training data, the drift alert, new
training data, and the retraining pull request."""
