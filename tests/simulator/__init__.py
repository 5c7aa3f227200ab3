"""Tests of statusd-sim (the simulator package)."""
