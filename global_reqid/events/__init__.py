"""Sequence events: what the filter records for each request and call.

* :mod:`~global_reqid.events.schema`: the versioned event record and its
  one serializer (every sink writes through it, so redaction cannot be
  skipped);
* :mod:`~global_reqid.events.route`: URL path to route template;
* :mod:`~global_reqid.events.redact`: masking of secrets;
* :mod:`~global_reqid.events.rules`: the filter rules file;
* :mod:`~global_reqid.events.sinks`: where events go (file, log, none);
* :mod:`~global_reqid.events.locations`: the default event directory.
"""

__all__ = ['locations', 'redact', 'route', 'rules', 'schema', 'sinks']
