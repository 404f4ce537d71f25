"""Exporting models for deployment runtimes: a verified ONNX file (fp32, or int8 by ONNX Runtime).

Running an export is the predictor's job (``Predictor(weights="model.onnx")``, see
:mod:`endobench.backends`); this package only writes files.
"""

from endobench.export.onnx import (
    EXPORT_PRECISIONS,
    ExportCheckError,
    ExportResult,
    export_onnx,
)

__all__ = ["EXPORT_PRECISIONS", "ExportCheckError", "ExportResult", "export_onnx"]
