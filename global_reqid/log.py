"""oslo.log formatters that always emit both request ids.

Both apply the root rule: a request with no global id shows its local id in
the global column or field, never ``None``. When no oslo.context context is
current (lines logged by middleware before the service builds its own), the
ids come from the request our filter is serving.

Text, in ``logging.conf`` (``log_config_append``)::

    [formatter_context]
    class = global_reqid.log.ContextFormatter

JSON, with ``global_request_id`` and ``request_id`` at the top level of each
record as well as in ``context``::

    [formatter_json]
    class = global_reqid.log.JSONFormatter
"""

import json

from oslo_log import formatters

from global_reqid import context as reqid_context

__all__ = ['ContextFormatter', 'JSONFormatter']

_MISSING = object()


class _Values(dict):
    """Context values that also answer attribute look-ups.

    oslo's ContextFormatter reads ``instance`` and ``resource_uuid`` as
    attributes of the context object.
    """

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return self.get(name)


class _WithIds:
    """Formats a record with its ``context`` replaced by root-ruled values.

    The record is restored afterwards: other handlers share it.
    """

    def _format_with_ids(self, record, format_):
        saved = {k: record.__dict__.get(k, _MISSING)
                 for k in ('context', 'extra')}
        explicit = record.__dict__.get('context')
        values = reqid_context.logging_values(explicit or None)
        try:
            if values:
                values = _Values(values)
                record.context = values
                extra = record.__dict__.get('extra')
                if isinstance(extra, dict) and extra.get('context'):
                    record.extra = dict(extra, context=values)
            return format_(record), values
        finally:
            for key, value in saved.items():
                if value is _MISSING:
                    record.__dict__.pop(key, None)
                else:
                    record.__dict__[key] = value


class ContextFormatter(_WithIds, formatters.ContextFormatter):
    """oslo.log's ``ContextFormatter`` with both ids on every request line."""

    def format(self, record):
        text, _ = self._format_with_ids(record, super().format)
        return text


class JSONFormatter(_WithIds, formatters.JSONFormatter):
    """oslo.log's ``JSONFormatter`` with both ids at the top level too."""

    def format(self, record):
        text, values = self._format_with_ids(record, super().format)
        head = json.dumps({
            'global_request_id': values.get('global_request_id'),
            'request_id': values.get('request_id'),
        })
        # NOTE: oslo's record is always a non-empty JSON object: splice our
        # two keys in front instead of decoding and encoding it again.
        return head[:-1] + ', ' + text[1:]
