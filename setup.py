"""Builds the dispatch core (evlab/_core.py) as a C extension with Cython, where it can.

The extension is optional: without a C compiler the build goes on and evlab runs the same
source interpreted (see evlab/_accel.py). Everything else is configured in pyproject.toml.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension("evlab._core", ["evlab/_core.py"], optional=True)
setup(ext_modules=cythonize(
    [core], language_level=3, quiet=True, force=True,  # force: directives change too
    # binding: methods are real functions (inspect.signature, bus.emit? in IPython)
    compiler_directives={"binding": True, "boundscheck": False, "wraparound": False}))
