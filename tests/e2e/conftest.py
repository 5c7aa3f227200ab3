"""Fixtures of the end-to-end tests."""

from tests.support.smtp_sink import smtp_sink

__all__ = ["smtp_sink"]
