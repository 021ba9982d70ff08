"""The optional compiled kernel (``moderation/model/_kernels.c``); everything else is in
pyproject.toml. ``optional=True``: without a C compiler the install still succeeds and
scoring uses the NumPy/SciPy path, which gives the same results, slower."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "moderation.model._kernels",
            ["moderation/model/_kernels.c"],
            # No fused multiply-add: it would round differently from the SciPy path.
            extra_compile_args=["-O3", "-ffp-contract=off", "-std=c99"],
            optional=True,
        )
    ]
)
