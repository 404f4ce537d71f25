"""``endobench run``: inference over data sets into EndoCV2021 run folders, with FPS and scores.

``run_benchmark(RunConfig(...)) -> RunResult`` runs one input size; ``run_sweep`` runs each of
``RunConfig.sizes`` into its own folder. Importing this package does not import torch; running does.
"""

from endobench.runner.config import RunConfig
from endobench.runner.pipeline import run_benchmark, run_sweep
from endobench.runner.result import RunResult, SetResult

__all__ = ["RunConfig", "RunResult", "SetResult", "run_benchmark", "run_sweep"]
