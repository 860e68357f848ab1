"""Builds the dispatch core (evlab/_core.py), the builders of the book events
(evlab/_builders.py), the order books (evlab/books/book.py and orderbooks.py), the book-heavy
exchange adapters (evlab/feeds/adapters/_common.py, binance, coinbase, kraken) and the paper
broker and portfolio (evlab/execution/broker.py and portfolio.py: every bar of a backtest
goes through both) as C extensions with Cython, where it can.

The extensions are optional: without a C compiler the build goes on and evlab runs the same
sources interpreted (see evlab/_accel.py; ``EVLAB_PURE_PYTHON=1`` does so too). Every module
here is plain Python compiled as is (decoding a frame and applying its levels costs fewer
instructions), the core and the per-update path of the books (book.pxd: OrderBook an
extension type; orderbooks.pxd), of the adapters' levels and times (_common.pxd) and of
Kraken's book checksum (kraken.pxd) typed by a .pxd beside the source. The Makefile's
SOURCES lists these files.
Everything else is configured in pyproject.toml.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

#: compiled as plain Python with Python's own indexing (negative indices, IndexError: these
#: modules use both); under EVLAB_PURE_PYTHON=1 evlab/books/__init__.py,
#: evlab/execution/__init__.py and evlab/feeds/adapters/__init__.py load their sources instead
PLAIN = ("evlab.books.orderbooks", "evlab.execution.broker", "evlab.execution.portfolio",
         "evlab.feeds.adapters._common",
         "evlab.feeds.adapters.binance", "evlab.feeds.adapters.coinbase",
         "evlab.feeds.adapters.kraken")
core = Extension("evlab._core", ["evlab/_core.py"], optional=True)
# the builders of the events of every book update (_builders.pxd: extension types)
builders = Extension("evlab._builders", ["evlab/_builders.py"], optional=True)
# typed by book.pxd, written for no wraparound/boundscheck
book = Extension("evlab.books.book", ["evlab/books/book.py"], optional=True)
plain = [Extension(name, [name.replace(".", "/") + ".py"], optional=True) for name in PLAIN]
# binding: methods are real functions (inspect.signature, bus.emit? in IPython)
# force: directives change too
setup(ext_modules=cythonize(
    [core, builders, book], language_level=3, quiet=True, force=True,
    compiler_directives={"binding": True, "boundscheck": False, "wraparound": False})
    + cythonize(plain, language_level=3, quiet=True, force=True,
                compiler_directives={"binding": True}))
