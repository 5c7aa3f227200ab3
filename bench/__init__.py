"""The benchmark harness of statusd (issue 7): every figure is a comparison taken in one run.

``python -m bench.run`` runs the measurements (``--smoke`` at tiny sizes); see bench/README.md.
"""
