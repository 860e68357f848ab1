"""Order books: ``OrderBooks`` (the component, ``orderbooks.py``) keeps one ``OrderBook``
(``book.py``) per symbol from the ``BookEvent``s on a bus, checking the venues' checksums with
the rules named in ``checksum.py``. ``book.py`` and ``orderbooks.py`` are compiled with Cython
where pip can (setup.py); with ``EVLAB_PURE_PYTHON=1`` their sources run interpreted, as the
dispatch core's does."""

import os

if os.environ.get("EVLAB_PURE_PYTHON"):
    from evlab._accel import source_module

    source_module("evlab.books.book")
    source_module("evlab.books.orderbooks")

from evlab.books.book import OrderBook
from evlab.books.orderbooks import OrderBooks

__all__ = ["OrderBook", "OrderBooks"]
