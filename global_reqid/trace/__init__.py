"""Collect, correlate and render the trace of one action.

``sources`` and ``scan`` find the lines, ``parse`` reads them,
``correlate`` builds a :class:`~global_reqid.trace.model.Trace`, and the
modules of ``render`` turn it into text, Mermaid, Markdown, JSON or HTML.
"""
