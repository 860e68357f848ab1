"""Developer tools run from the repository root (``python -m tools.screenshots``), shared with
the tests: not part of the installed package."""
