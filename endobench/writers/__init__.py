"""Writers: EndoCV2021 submission folders, run folders, scores and validated zips (no torch).

- :mod:`endobench.writers.masks`: ``<set>_pred/<name>_mask.jpg`` masks and probability maps.
- :mod:`endobench.writers.run_folder`: :class:`RunFolder`, the one owner of a run folder (the
  ``--force``/``--resume`` rules, ``run.json``, the journal, ``timing.json``, per-set scores files).
- :mod:`endobench.writers.journal`: the run's append-only per-image journal (resume).
- :mod:`endobench.writers.manifest`: ``manifest.json`` (every input image, its size and hash).
- :mod:`endobench.writers.time_file`: the toolkit's ``timeElaspsed<set>.txt``.
- :mod:`endobench.writers.package`: ``package_run`` and the rules of a submission.
- :mod:`endobench.writers.zip_check`: ``check_zip`` (``package --check``).
"""

from endobench.writers.manifest import read_manifest
from endobench.writers.masks import mask_path, read_prediction, set_pred_dir, write_mask, write_prob
from endobench.writers.package import PackageError, PackageReport, check_run, package_run
from endobench.writers.run_folder import RunFolder, prepare_run_dir, read_run_json
from endobench.writers.time_file import format_time_file, parse_time_file
from endobench.writers.zip_check import check_zip

__all__ = [
    "PackageError",
    "PackageReport",
    "RunFolder",
    "check_run",
    "check_zip",
    "format_time_file",
    "mask_path",
    "package_run",
    "parse_time_file",
    "prepare_run_dir",
    "read_manifest",
    "read_prediction",
    "read_run_json",
    "set_pred_dir",
    "write_mask",
    "write_prob",
]
