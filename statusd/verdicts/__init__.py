"""Stage two: the verdict of every cell, the incident timeline and the public documents."""
