"""The sequence event, version 1, and its one serializer.

An event is a flat dict built on the request path with raw values and
serialized later, off the request path, by :func:`to_json`: every sink
writes through it, so secrets are masked in exactly one place whatever the
sink. The fields are documented in ``doc/source/events.rst``; they only
ever grow within a version.
"""

import datetime
import json
import re

from global_reqid.events import redact
from global_reqid.events import route

VERSION = 1

#: Fields every ``server`` event has (``None`` when unknown).
SERVER_FIELDS = (
    'v', 'kind', 'global_request_id', 'request_id', 'parent_request_id',
    'root', 'service', 'caller', 'host', 'pid', 'method', 'path', 'route',
    'query', 'status', 'error', 'start', 'duration_ms', 'request_bytes',
    'response_bytes', 'user_id', 'project_id',
)


_SECRET_STORE = re.compile(r'/(secrets|orders|containers)(/|$)')

# The formatted second of the last event: events come in bursts within a
# second, and formatting a datetime costs more than the rest of an event.
_last_second = [None, '']


def format_time(epoch):
    """Format seconds since the epoch as UTC ISO 8601 with microseconds."""
    second = int(epoch // 1)
    micros = int(round((epoch - second) * 1e6))
    if micros >= 1000000:
        second, micros = second + 1, micros - 1000000
    cached = _last_second
    if cached[0] != second:
        moment = datetime.datetime.fromtimestamp(second,
                                                 datetime.timezone.utc)
        cached = [second, moment.strftime('%Y-%m-%dT%H:%M:%S')]
        _last_second[:] = cached
    return '%s.%06dZ' % (cached[1], micros)


def to_json(event):
    """Serialize an event to one JSON line (no newline), secrets masked.

    ``start`` may be a float (seconds since the epoch) and is formatted;
    ``query``, ``headers`` and ``body`` are redacted here.
    """
    out = dict(event)
    if out.get('path') is not None:
        # NOTE: some APIs put secrets in paths (/v2.0/tokens/<token>): the
        # route is made from the masked path.
        out['path'] = redact.path(out['path'])
        if 'route' not in out:
            out['route'] = route.template(out['path'])
    start = out.get('start')
    if isinstance(start, (int, float)):
        out['start'] = format_time(start)
    if out.get('query'):
        out['query'] = redact.query(out['query'])
    headers = out.get('headers')
    if headers:
        out['headers'] = {side: redact.headers(values)
                          for side, values in headers.items()}
    body = out.get('body')
    if body and _SECRET_STORE.search(out.get('path') or ''):
        # NOTE: barbican's payloads are the secrets themselves, with no
        # field name to recognise them by.
        out['body'] = {side: {'omitted': 'secret store'} for side in body}
    elif body:
        out['body'] = {
            side: redact.body(data, content_type, limit)
            for side, (data, content_type, limit) in body.items()}
    return _ENCODER.encode(out)


# NOTE: one encoder for every event: json.dumps builds a new one per call
# when given any option, which costs as much as the encoding.
_ENCODER = json.JSONEncoder(separators=(',', ':'), default=str,
                            ensure_ascii=False)
