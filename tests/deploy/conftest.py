# The serve tests' model and service (a real model in a temporary BentoML store), for the
# probes' paths.
from tests.serve.conftest import regression, store

__all__ = ["regression", "store"]
