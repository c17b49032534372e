"""SGLang simulator: a stand-in for the `sglang` 0.5.23 server used by the collection's tests.

Standard library only. See tests/sim/README.md.
"""

__version__ = "0.5.23"
