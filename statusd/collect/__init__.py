"""Stage one: one collector per source fetches, parses and sends outcomes down the channel."""
