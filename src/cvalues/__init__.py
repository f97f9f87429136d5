"""cvalues: measure how well a Chinese LLM holds human values, from safety to responsibility.

Layers, in the one direction data flows: ``cvalues.data`` (suites and pinned sources) ->
``cvalues.models`` and ``cvalues.runs`` (asking models, storing answers durably) -> ``cvalues.mc``
(multi-choice scoring) -> reports. The command line in ``cvalues.cli`` is a thin layer on top.
"""

__version__ = "0.1.0"
