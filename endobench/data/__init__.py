"""Data layer: readers for every polyp data set, layouts, named data sets, splits and the sample.

No torch here: everything returns numpy arrays and plain paths.
"""

from endobench.data.dataset import Dataset, Sample
from endobench.data.headers import image_size
from endobench.data.layouts import LAYOUTS, canonical_name, detect_layout, open_dataset
from endobench.data.negatives import open_negatives
from endobench.data.readers import (
    IMAGE_SUFFIXES,
    decode_mask_channel,
    empty_mask_like,
    image_file_problem,
    mask_file_problem,
    read_image,
    read_mask,
    read_mask_channel,
)
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
    "decode_mask_channel",
    "detect_layout",
    "empty_mask_like",
    "find_datasets",
    "image_file_problem",
    "image_size",
    "kfold",
    "load_dataset",
    "mask_file_problem",
    "open_dataset",
    "open_negatives",
    "pranet_split",
    "read_image",
    "read_mask",
    "read_mask_channel",
    "read_split_file",
    "resolve_data_root",
    "sample_dataset",
    "sample_root",
    "write_split_file",
]
