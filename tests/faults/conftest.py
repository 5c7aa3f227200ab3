"""Fixtures of the fault tests."""

from tests.support.smtp_sink import smtp_sink

__all__ = ["smtp_sink"]
