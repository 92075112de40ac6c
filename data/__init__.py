"""Task items, human difficulty norms, trace files and the small I/O primitives every stage shares.

`data` sits at the root of the import graph: it imports no other mimicry package.
"""
