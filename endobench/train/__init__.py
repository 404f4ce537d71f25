"""Training: the published recipes, the structure loss, k-fold, DDP, and post-processing calibration.

Importing this package imports torch; the CLI imports it only inside its commands.
"""

from endobench.train.calibrate import calibrate_checkpoint, calibrate_model
from endobench.train.calibration_result import CalibrationResult, describe_calibration
from endobench.train.fold_state import FoldState
from endobench.train.loop import train
from endobench.train.loss import boundary_weights, deep_supervision_loss, structure_loss
from endobench.train.options import TrainConfig
from endobench.train.recipe import (
    PRANET_RECIPE,
    SEED_PAPER_RECIPE,
    Recipe,
    multiscale_sizes,
    parse_scales,
    recipe_for,
)
from endobench.train.results import FoldResult, TrainResult, describe

__all__ = [
    "CalibrationResult",
    "FoldResult",
    "FoldState",
    "calibrate_checkpoint",
    "calibrate_model",
    "describe_calibration",
    "PRANET_RECIPE",
    "SEED_PAPER_RECIPE",
    "Recipe",
    "TrainConfig",
    "TrainResult",
    "boundary_weights",
    "deep_supervision_loss",
    "describe",
    "multiscale_sizes",
    "parse_scales",
    "recipe_for",
    "structure_loss",
    "train",
]
