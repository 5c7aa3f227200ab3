"""The bytes statusd serves: JSON in pieces, spill files, the /api document and its gzip."""
