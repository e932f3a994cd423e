"""The DVC pipeline: the prepare, train and evaluate stages, their metrics, and MLflow tracking."""
