"""The published training recipes, as defaults per model.

PraNet (Fan et al., MICCAI 2020; the released ``MyTrain.py``): Adam, learning rate 1e-4, batch 16,
input 352 x 352 (plain resize, no other augmentation), multi-scale training at {0.75, 1, 1.25} x
size rounded to a multiple of 32 (one optimiser step per scale and batch), gradient values clipped
to +-0.5 (``clamp``, not a norm), the structure loss summed over the four side outputs. Its learning
rate decay (x0.1 every 50 epochs) never fires within its 20 epochs; it is kept so longer runs behave
the same. (The released loop runs ``range(1, 20)``, i.e. 19 epochs; endobench counts 20.)

The seed paper (Yu, Yan, Li, EndoCV2021, section 3.1) for its Res2Net models (``brp``,
``brp_post``, ``br``, ``bp``): the same optimiser, loss, batch and scales at input 512 x 512, with
five-fold cross-validation (the training data split into five equal parts, one model per fold
trained on four and validated on the fifth).

``brp_lite`` (and ``brp_lite_post``, the same network) is endobench's own model, so it takes the
recipe of its shipped weights (``training`` in their metadata, docs/model-card-brp_lite.md): batch
8, a tenth of the data held back for validation, no folds, PraNet's three scales at the shipped
352 px, and the first stage's learning rate (2e-4) and 20 epochs. The shipped file then had three
short fine-tunes from those weights (``--init``; lr 2e-5, negatives), listed in the model card.

Neither recipe uses flips, rotations or colour jitter; endobench adds none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from endobench.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Every hyper-parameter of a training run that is not data, model or seed.

    Attributes:
        size: Input side at scale 1 (a multiple of 32).
        batch_size: Images per optimiser step (over all processes).
        lr: Adam learning rate.
        epochs: Passes over the training data.
        scales: Multi-scale factors; each batch is trained once per factor.
        clip: Gradient values are clamped to [-clip, clip]; 0 turns clipping off.
        lr_decay_epochs: Multiply the learning rate by ``lr_decay_rate`` every this many epochs.
        lr_decay_rate: The decay factor.
        folds: Cross-validation folds (0: no cross-validation).
        bce: Structure-loss BCE mode (see :mod:`endobench.train.loss`).
        negative_fraction: Share of each batch taken by negative images (real polyp-free frames
            and crops of positives away from the polyp, :mod:`endobench.train.negative_mix`) when
            the run has any; without negatives it changes nothing. Neither paper trains on
            negatives; 0.25 is endobench's default (two of a batch of 8).
        frame_share: With real negative frames, the share of positive slots that take the
            positive framed in a negative frame (:mod:`endobench.train.frame_context`); the
            frames' view crops then train too. 0 turns both off; without real negatives it
            changes nothing.
        freeze_norm: Keep BatchNorm layers in eval mode while training: their running statistics
            stay those of the starting weights (a fine-tune from ``--init`` whose new images,
            such as 1080p video frames, would otherwise shift them); scale and shift still train.
        weak_fraction: Share of each batch taken by frames that show a polyp without a mask
            (``--weak-positives``, :mod:`endobench.train.weak_frames`) when the run has any.
        frame_loss: Weight of the frame-level (multiple-instance) loss of weak positives and
            negatives, added to the structure loss; it applies only to runs with weak positives.
        augment: Flip, rotate and recolour every training image on the training device
            (:mod:`endobench.train.augment`); neither paper does.
        select: How the best epoch is chosen: ``dice`` (validation Dice, the papers' rule) or
            ``balanced`` (Dice plus polyp frames found minus polyp-free frames called polyp,
            :func:`endobench.train.fold_state.selection_score`).
        val_fraction: Share of the training data held back for validation when the run names
            no ``--val-data``, ``--val-fraction``, ``--folds`` or ``--fold`` (0: none).
        source: Where the defaults come from.
    """

    size: int = 352
    batch_size: int = 16
    lr: float = 1e-4
    epochs: int = 20
    scales: tuple[float, ...] = (0.75, 1.0, 1.25)
    clip: float = 0.5
    lr_decay_epochs: int = 50
    lr_decay_rate: float = 0.1
    folds: int = 0
    bce: str = "weighted"
    negative_fraction: float = 0.25
    frame_share: float = 0.0
    freeze_norm: bool = False
    weak_fraction: float = 0.125
    frame_loss: float = 1.0
    augment: bool = False
    select: str = "dice"
    val_fraction: float = 0.0
    source: str = "PraNet (Fan et al., MICCAI 2020), MyTrain.py"

    def replace(self, **changes: Any) -> Recipe:
        """Return a copy with the given fields changed (``None`` values are ignored) and checked."""
        updates = {k: v for k, v in changes.items() if v is not None}
        if "scales" in updates:
            updates["scales"] = tuple(float(s) for s in updates["scales"])
        recipe = dataclasses.replace(self, **updates)
        recipe.validate()
        return recipe

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values no run can use."""
        if self.size <= 0 or self.size % 32:
            lower = self.size // 32 * 32
            nearest = f"{lower} or {lower + 32}" if lower > 0 else "32 or more (288, 352, 512)"
            raise ConfigError(
                f"--size {self.size} must be a positive multiple of 32: use {nearest}"
            )
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size {self.batch_size} must be at least 1")
        if self.epochs < 1:
            raise ConfigError(f"--epochs {self.epochs} must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"--lr {self.lr} must be positive")
        if self.clip < 0:
            raise ConfigError(f"--clip {self.clip} must be 0 (off) or positive")
        if not self.scales or any(s <= 0 for s in self.scales):
            raise ConfigError(
                f"--scales {self.scales} must be positive factors such as 0.75,1,1.25"
            )
        if not 0 <= self.negative_fraction < 1:
            raise ConfigError(
                f"--negative-fraction {self.negative_fraction} must lie in [0, 1) (e.g. 0.25)"
            )
        if not 0 <= self.frame_share <= 1:
            raise ConfigError(f"--frame-share {self.frame_share} must lie in [0, 1] (e.g. 0.25)")
        if not 0 <= self.weak_fraction < 1:
            raise ConfigError(
                f"--weak-fraction {self.weak_fraction} must lie in [0, 1) (e.g. 0.125)"
            )
        if self.frame_loss < 0:
            raise ConfigError(f"--frame-loss {self.frame_loss} must be 0 (off) or positive")
        if self.select not in SELECTION_RULES:
            raise ConfigError(
                f"--select {self.select!r} is not a rule; use one of {', '.join(SELECTION_RULES)}"
            )
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"--val-fraction {self.val_fraction} must lie in [0, 1) (e.g. 0.1)")
        if self.folds == 1 or self.folds < 0:
            raise ConfigError(f"--folds {self.folds} must be 0 (no cross-validation) or at least 2")
        multiscale_sizes(self.size, self.scales)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in checkpoints and training state)."""
        data = dataclasses.asdict(self)
        data["scales"] = list(self.scales)
        data["train_sizes"] = multiscale_sizes(self.size, self.scales)
        return data


SELECTION_RULES = ("dice", "balanced")

PRANET_RECIPE = Recipe()
SEED_PAPER_RECIPE = Recipe(
    size=512,
    folds=5,
    source="Yu, Yan, Li, EndoCV2021 (CEUR-WS Vol-2886) section 3.1, on PraNet's recipe",
)


#: The shipped ``brp_lite`` weights' recipe (their ``training`` metadata; see the module text).
LITE_RECIPE = Recipe(
    batch_size=8,
    lr=2e-4,
    val_fraction=0.1,
    source="the shipped brp_lite weights (docs/model-card-brp_lite.md): stage 1's batch 8, "
    "lr 2e-4, 20 epochs and held-back tenth, at their 352 px with PraNet's three scales",
)

#: The seed paper's Res2Net models; ``brp_lite*`` are endobench's own.
SEED_PAPER_MODELS = frozenset({"brp", "brp_post", "br", "bp"})


def recipe_for(model_name: str) -> Recipe:
    """Return a model's default recipe: the seed paper's for its Res2Net models (``brp``,
    ``brp_post``, ``br``, ``bp``), the shipped weights' for ``brp_lite*``, else PraNet's."""
    if model_name in SEED_PAPER_MODELS:
        return SEED_PAPER_RECIPE
    if model_name.startswith("brp_lite"):
        return LITE_RECIPE
    return PRANET_RECIPE


def multiscale_sizes(size: int, scales: Sequence[float]) -> list[int]:
    """Training sides for each scale: ``round(size * scale / 32) * 32`` as PraNet computes them.

    Python's ``round`` (halves to even) is kept on purpose: it is what the released code uses.

    Raises:
        ConfigError: When a scale rounds to a side below 32.
    """
    sides = [int(round(size * float(rate) / 32) * 32) for rate in scales]
    if any(side < 32 for side in sides):
        raise ConfigError(
            f"--scales {list(scales)} at --size {size} give a side below 32; use larger scales"
        )
    return sides


def parse_scales(text: str) -> tuple[float, ...]:
    """Parse ``"0.75,1,1.25"`` into floats, with a one-line error for anything else."""
    try:
        scales = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"--scales {text!r} must be comma-separated numbers such as 0.75,1,1.25"
        ) from None
    if not scales:
        raise ConfigError("--scales is empty; give factors such as 0.75,1,1.25")
    return scales
