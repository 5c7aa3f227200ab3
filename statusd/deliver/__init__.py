"""Acting on the outbox (SPEC §8): send each entry, then record what the other side said."""
