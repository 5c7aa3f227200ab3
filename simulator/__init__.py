"""statusd-sim: a stand-in for every statusd source."""
