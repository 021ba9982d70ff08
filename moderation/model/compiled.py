"""The optional compiled kernels (``_kernels.c``), or None when they were not built.

``setup.py`` builds them when a C compiler is there at install time; without one the install
still succeeds and every caller takes its NumPy/SciPy path, which gives the same results
(slower). Callers read ``compiled.kernels`` at call time, so a test can switch them off.
"""

from __future__ import annotations

from types import ModuleType

kernels: ModuleType | None
try:
    from moderation.model import _kernels as kernels
except ImportError:  # pragma: no cover - depends on how the package was installed
    kernels = None
