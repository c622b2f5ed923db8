"""Synthesized audio with known beats: the demo tracks (`tracks`), the studio library the example classes
play (`library`), and long files for memory checks. Used by `make tracks` / `make library`, the tests and
the benches; no copyrighted music anywhere. Not part of the analysis: it only makes what the analysis is
tried on.
"""
