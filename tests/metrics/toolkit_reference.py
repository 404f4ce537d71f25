"""A plain re-statement of the EndoCV2021 toolkit's per-folder flow, used as the tests' reference.

Written from the toolkit's description (compute_seg.py / metrics_seg.py): OpenCV reads, ``> 0``,
INTER_AREA, scikit-learn confusion counts on Python lists, the ``hausdorff`` package, then the set
summary with numpy. Slow on purpose: it is what endobench must agree with.
"""

from __future__ import annotations

import glob
import os

import cv2
import numpy as np
from hausdorff import hausdorff_distance
from sklearn.metrics import confusion_matrix

EPS = 1e-15


def reference_counts(gt01: np.ndarray, pred01: np.ndarray) -> tuple[float, float, float, float]:
    """tn, fp, fn, tp from scikit-learn on the flattened lists, as the toolkit gets them."""
    truth = gt01.flatten().tolist()
    pred = pred01.flatten().tolist()
    if set(truth) == set(pred) == {1}:
        return 0.0, 0.0, 0.0, float(len(truth))
    if set(truth) == set(pred) == {0}:
        return float(len(truth)), 0.0, 0.0, 0.0
    tn, fp, fn, tp = confusion_matrix(truth, pred).ravel()
    return float(tn), float(fp), float(fn), float(tp)


def reference_image_scores(gt01: np.ndarray, pred01: np.ndarray) -> dict[str, float]:
    """The toolkit's seven scores of two uint8 0/1 masks of the same shape."""
    tn, fp, fn, tp = reference_counts(gt01, pred01)
    inter = (gt01 * pred01).sum()
    p = (inter + EPS) / (pred01.sum() + EPS)
    r = (inter + EPS) / (gt01.sum() + EPS)
    return {
        "jaccard": (inter + EPS) / (gt01.sum() + pred01.sum() - inter + EPS),
        "dice": (2 * inter + EPS) / (gt01.sum() + pred01.sum() + EPS),
        "f2": 5.0 * (p * r) / float(4 * p + r + EPS),
        "ppv": p,
        "recall": r,
        "accuracy": (tp + tn) / (tp + tn + fp + fn),
        "hausdorff": hausdorff_distance(gt01, pred01, distance="euclidean"),
    }


def reference_prepare(gt_bgr: np.ndarray, pred_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Truth and prediction as the toolkit prepares them from two OpenCV (BGR) reads."""
    gt01 = (gt_bgr > 0).astype(np.uint8)[:, :, 0]
    pred = (pred_bgr > 0).astype(np.uint8)
    pred = cv2.resize(pred, (gt01.shape[1], gt01.shape[0]), interpolation=cv2.INTER_AREA)[:, :, 0]
    return gt01, pred


def reference_summary(per_image: list[dict[str, float]]) -> dict:
    """The toolkit's JSON dictionary from per-image scores (in the toolkit's list order)."""
    col = {
        k: np.vstack([np.hstack([s[k]]) for s in per_image])
        for k in ("jaccard", "dice", "f2", "ppv", "recall", "accuracy")
    }
    hd = [s["hausdorff"] for s in per_image]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = [
            ("dice", col["dice"].mean(axis=0)[0]),
            ("jaccard", col["jaccard"].mean(axis=0)[0]),
            ("typeIIerror", col["f2"].mean(axis=0)[0]),
            ("PPV", col["ppv"].mean(axis=0)[0]),
            ("recall", col["recall"].mean(axis=0)[0]),
            ("OverallAcc", np.mean(col["accuracy"])),
            ("hausdorff_distance", np.mean(hd) / np.max(hd)),
            ("hausdorff_distance_nonNorm", np.mean(hd)),
            ("dice_std", np.std(col["dice"])),
            ("jc_std", np.std(col["jaccard"])),
            ("f2_std", np.std(col["f2"])),
            ("ppv_std", np.std(col["ppv"])),
            ("r_std", np.std(col["recall"])),
            ("acc_std", np.std(col["accuracy"])),
            ("hdf_std", np.std(hd / np.max(hd))),
            ("hdf_std_noNorm", np.std(hd)),
        ]
    return {"EndoCV2021_seg": {k: {"value": v} for k, v in values}}


def reference_folder(gt_dir: str, pred_dir: str) -> tuple[dict[str, dict[str, float]], dict]:
    """Score ``pred_dir/*.jpg`` against ``gt_dir/<name.split('_')[0]>.jpg`` as the toolkit does.

    Returns:
        Per-image scores keyed by the truth's stem, and the toolkit's JSON dictionary.
    """
    per_image = {}
    ordered = []
    for pred_file in glob.glob(os.path.join(pred_dir, "*.jpg")):
        stem = os.path.split(pred_file)[-1].split(".")[0].split("_")[0]
        gt01, pred01 = reference_prepare(
            cv2.imread(os.path.join(gt_dir, stem + ".jpg")), cv2.imread(pred_file)
        )
        scores = reference_image_scores(gt01, pred01)
        per_image[stem] = scores
        ordered.append(scores)
    return per_image, reference_summary(ordered)
