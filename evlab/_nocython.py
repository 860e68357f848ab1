"""Stand-in for the ``cython`` module where Cython is not installed: evlab runs interpreted."""

compiled = False
