"""`python -m ratchet.pipeline STAGE`: what dvc.yaml runs.

It imports only this package, `ratchet.core` and the recipe, which is why those are the stages'
code deps in dvc.yaml: a change anywhere else in Ratchet leaves dvc.lock true.
"""

import sys

from ratchet.core.cli import build_parser, run
from ratchet.pipeline.cli import register

sys.exit(
    run(build_parser([register], "python -m ratchet.pipeline", "Ratchet's pipeline commands."))
)
