"""Order books: ``OrderBooks`` (the component, ``orderbooks.py``) keeps one ``OrderBook``
(``book.py``) per symbol from the ``BookEvent``s on a bus, checking the venues' checksums with
the rules named in ``checksum.py``. ``book.py`` is compiled with Cython where pip can (setup.py);
with ``EVLAB_PURE_PYTHON=1`` its source runs interpreted, as the dispatch core's does."""

import os

if os.environ.get("EVLAB_PURE_PYTHON"):
    from evlab._accel import source_module

    source_module("evlab.books.book")

from evlab.books.book import OrderBook
from evlab.books.orderbooks import OrderBooks

__all__ = ["OrderBook", "OrderBooks"]
