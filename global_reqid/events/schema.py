"""The sequence event, version 1, and its one serializer.

An event is a flat dict built on the request path with raw values and
serialized later, off the request path, by :func:`to_json`: every sink
writes through it, so secrets are masked in exactly one place whatever the
sink. The fields are documented in ``doc/source/events.rst``; they only
ever grow within a version.
"""

import datetime
import json

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


def format_time(epoch):
    """Format seconds since the epoch as UTC ISO 8601 with microseconds."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def to_json(event):
    """Serialize an event to one JSON line (no newline), secrets masked.

    ``start`` may be a float (seconds since the epoch) and is formatted;
    ``query``, ``headers`` and ``body`` are redacted here.
    """
    out = dict(event)
    if 'route' not in out and out.get('path') is not None:
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
    if body:
        out['body'] = {
            side: redact.body(data, content_type, limit)
            for side, (data, content_type, limit) in body.items()}
    return json.dumps(out, separators=(',', ':'), default=str,
                      ensure_ascii=False)
