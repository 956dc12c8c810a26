"""Pure renderers: a :class:`~global_reqid.trace.model.Trace` in, text out."""
