"""Checks over the whole toolkit, above ``runner`` and ``train``: ``make gpu-check``
(:mod:`endobench.checks.gpu_check`, its probes in :mod:`endobench.checks.gpu_probes`)."""
