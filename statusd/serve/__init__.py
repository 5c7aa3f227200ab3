"""HTTP: the server with its limits, the /api fast path, and the Quart routes."""
