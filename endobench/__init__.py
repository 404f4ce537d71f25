"""endobench: polyp segmentation benchmarking and EndoCV2021 submission toolkit.

The package is laid out as the pipeline it implements::

    data  ->  models (registry)  ->  predictor  ->  runner  ->  metrics (scorer)  ->  writers

Importing :mod:`endobench` is cheap: nothing here imports torch.
"""

__version__ = "0.1.0"

from endobench.errors import EndobenchError  # noqa: E402

__all__ = ["EndobenchError", "__version__"]
