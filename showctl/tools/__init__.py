"""Developer checks that read the source: `python -m showctl.tools.layers`."""
