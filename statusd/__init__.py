"""statusd: collects seven provider sources and serves one prepared JSON document."""

__version__ = "0.1.0"
