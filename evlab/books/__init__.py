"""Order books: ``OrderBooks`` (the component, ``orderbooks.py``) keeps one ``OrderBook``
(``book.py``) per symbol from the ``BookEvent``s on a bus, checking the venues' checksums with
the rules named in ``checksum.py``."""

from evlab.books.book import OrderBook
from evlab.books.orderbooks import OrderBooks

__all__ = ["OrderBook", "OrderBooks"]
