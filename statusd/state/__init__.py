"""The state holder: the last good result of every source, /api's bytes, the state file."""
