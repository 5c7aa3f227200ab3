"""Helpers shared by the test suites: free loopback ports and a real simulator subprocess."""
