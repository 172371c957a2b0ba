"""The launch-night benchmark: ``python -m bench.launch`` or ``marque bench launch``.

Not part of the installed package: it drives a running marque from the outside, and reads
its database directly only to provision buyers fast and to verify the books afterwards.
"""
