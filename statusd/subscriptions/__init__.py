"""Subscriptions (SPEC §8): who is told about what, and the public routes that manage them."""
