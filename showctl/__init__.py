"""showctl: a show controller for fitness studios.

Data flows one way: tracks → analysis → cue sheet → timeline → player → outputs.
"""

__version__ = "0.1.0"
