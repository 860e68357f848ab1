"""Builds the dispatch core (evlab/_core.py) and the order book (evlab/books/book.py) as C
extensions with Cython, where it can.

The extensions are optional: without a C compiler the build goes on and evlab runs the same
sources interpreted (see evlab/_accel.py). Everything else is configured in pyproject.toml.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension("evlab._core", ["evlab/_core.py"], optional=True)
# plain Python compiled as is (no Cython declarations): each level change costs less
book = Extension("evlab.books.book", ["evlab/books/book.py"], optional=True)
setup(ext_modules=cythonize(
    [core, book], language_level=3, quiet=True, force=True,  # force: directives change too
    # binding: methods are real functions (inspect.signature, bus.emit? in IPython)
    compiler_directives={"binding": True, "boundscheck": False, "wraparound": False}))
