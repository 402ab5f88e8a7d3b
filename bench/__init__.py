"""shopwatch's benchmark: a Double-11 hour on two cores, measured against the raw limit.

Run ``python -m bench`` (about 10 minutes) or ``python -m bench --quick`` (about a minute)
from the repository root; ``python -m bench --help`` lists the options. See ``bench.cli``.
"""
