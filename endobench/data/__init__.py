"""Data layer: readers for every polyp data set, layouts, named data sets, splits and the sample.

No torch here: everything returns numpy arrays and plain paths.
"""

from endobench.data.dataset import Dataset, Sample
from endobench.data.headers import image_size
from endobench.data.layouts import LAYOUTS, canonical_name, detect_layout, open_dataset
from endobench.data.readers import IMAGE_SUFFIXES, empty_mask_like, read_image, read_mask
from endobench.data.registry import (
    ENV_VAR,
    FoundDataset,
    find_datasets,
    load_dataset,
    resolve_data_root,
)
from endobench.data.sample import SAMPLE_SETS, sample_dataset, sample_root
from endobench.data.splits import (
    apply_split_file,
    kfold,
    pranet_split,
    read_split_file,
    write_split_file,
)

__all__ = [
    "ENV_VAR",
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "SAMPLE_SETS",
    "Dataset",
    "FoundDataset",
    "Sample",
    "apply_split_file",
    "canonical_name",
    "detect_layout",
    "empty_mask_like",
    "find_datasets",
    "image_size",
    "kfold",
    "load_dataset",
    "open_dataset",
    "pranet_split",
    "read_image",
    "read_mask",
    "read_split_file",
    "resolve_data_root",
    "sample_dataset",
    "sample_root",
    "write_split_file",
]
