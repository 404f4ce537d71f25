"""What a test needs of the machine (an instruction set, a device), and why it is skipped without it.

A test declares its needs with one marker; ``tests/conftest.py`` skips it, naming the reason,
whenever one is missing here::

    @pytest.mark.needs("cpu_bf16")
    def test_something(): ...

The checks are the project's own (``endobench.backends.cpu_supports_bf16`` for bfloat16), looked
up when the test starts, so a test that replaces them sees the skip path.
"""

from __future__ import annotations

#: Every capability a ``needs`` marker may name, and what it means.
CAPABILITIES = {
    "cpu_bf16": "bfloat16 instructions on the CPU (AVX512-BF16 or AMX)",
    "cuda": "a CUDA device",
}


def missing_capability(name: str) -> str | None:
    """Why this machine lacks ``name`` (None when it has it).

    Raises:
        ValueError: ``name`` is not one of :data:`CAPABILITIES`.
    """
    if name == "cpu_bf16":
        from endobench import backends

        if backends.cpu_supports_bf16():
            return None
        from endobench.env import cpu_name

        return f"needs {CAPABILITIES[name]}; this CPU ({cpu_name()}) has none"
    if name == "cuda":
        import torch

        return None if torch.cuda.is_available() else f"needs {CAPABILITIES[name]}"
    raise ValueError(f"unknown capability {name!r}; use one of {', '.join(CAPABILITIES)}")


def missing_capabilities(names: tuple[str, ...]) -> list[str]:
    """The reasons of every capability in ``names`` this machine lacks."""
    return [reason for reason in map(missing_capability, names) if reason is not None]
