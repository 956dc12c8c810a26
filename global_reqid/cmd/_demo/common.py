"""What the demo's stand-in services share: ids, times, JSON answers."""

import datetime
import json
import uuid

#: keystone's and glance's time format in answers.
TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'


def stable_id(name):
    """A keystone-like id (32 hex) that is the same for the same name."""
    return uuid.uuid5(uuid.NAMESPACE_URL, 'global-reqid-demo:' + name).hex


def now():
    """The time now, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def answer(start_response, status, body=None, headers=()):
    """Send a JSON (or empty) answer; return the WSGI body."""
    data = b'' if body is None else json.dumps(body).encode('utf-8')
    out = [('Content-Length', str(len(data)))]
    if body is not None:
        out.append(('Content-Type', 'application/json'))
    start_response(status, out + list(headers))
    return [data]


def error(start_response, status, message):
    """Send an error shaped like the OpenStack APIs'; return the body."""
    code = int(status.split()[0])
    return answer(start_response, status, {'error': {
        'code': code, 'title': status.split(' ', 1)[1], 'message': message}})


def read(environ):
    """The request body (all of it: the demo's bodies are small)."""
    length = int(environ.get('CONTENT_LENGTH') or 0)
    return environ['wsgi.input'].read(length) if length > 0 else b''
