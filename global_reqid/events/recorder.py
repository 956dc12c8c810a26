"""Records one ``server`` event per request the filter serves.

The request thread only gathers raw values into a dict and hands it to the
sinks (a queue put for the file sink); formatting, redaction and writing
happen in :func:`global_reqid.events.schema.to_json`, off that thread.
"""

import os
import socket
import time

from global_reqid.events import schema

_CAPTURED_ENVIRON_HEADERS = {'CONTENT_TYPE': 'Content-Type',
                             'CONTENT_LENGTH': 'Content-Length'}
#: X-OpenStack-Request-ID as _request_headers spells environ keys.
_REQUEST_ID_KEY = 'X-Openstack-Request-Id'


def _request_headers(environ, held):
    headers = {}
    for key, value in environ.items():
        if key.startswith('HTTP_'):
            headers[key[5:].replace('_', '-').title()] = value
        elif key in _CAPTURED_ENVIRON_HEADERS:
            headers[_CAPTURED_ENVIRON_HEADERS[key]] = value
    # NOTE: the filter has already put its local id (or the global id) in
    # the environ's header for the app; the caller sent the global id, and
    # an invalid value is never shown.
    headers.pop(_REQUEST_ID_KEY, None)
    if held.global_request_id is not None:
        headers[_REQUEST_ID_KEY] = held.global_request_id
    return headers


def _content_type(headers):
    for name, value in headers:
        if name.lower() == 'content-type':
            return value
    return None


class _TeeInput:
    """``wsgi.input`` that keeps a copy of the first ``limit`` bytes read."""

    def __init__(self, stream, limit):
        self._stream = stream
        self._limit = limit
        self.captured = bytearray()

    def _keep(self, data):
        room = self._limit - len(self.captured)
        if room > 0 and data:
            self.captured += data[:room]
        return data

    def read(self, *args):
        return self._keep(self._stream.read(*args))

    def readline(self, *args):
        return self._keep(self._stream.readline(*args))

    def readlines(self, *args):
        return [self._keep(line) for line in self._stream.readlines(*args)]

    def __iter__(self):
        for line in self._stream:
            yield self._keep(line)


class Recorder:
    """Builds and emits the events of one filter instance."""

    def __init__(self, sinks, rules=None, capture_bodies=False,
                 max_body_bytes=4096, host=None):
        self.sinks = tuple(sinks)
        self.rules = rules
        self.capture_bodies = capture_bodies
        self.max_body_bytes = max_body_bytes
        self.host = host or socket.gethostname()

    def skip(self, held, environ):
        """Whether the rules say this request is not to be recorded."""
        rules = self.rules
        return rules is not None and rules.skip(
            held.caller, held.service, environ.get('REQUEST_METHOD', ''),
            environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', ''))

    def serve(self, app, environ, start_response, held, end, answered=None):
        """Call ``app`` for one request, recording it; ``end()`` after.

        ``answered(headers)``, if given, returns the response headers the
        filter really sends (its ``X-OpenStack-Request-ID`` added): those
        are the ones passed on and captured.
        """
        start = time.time()
        t0 = time.perf_counter()
        seen = [None, None, None]
        capture = self.capture_bodies
        tee = None
        if capture:
            # NOTE: now, before the app runs: later middleware (authtoken)
            # adds X-User-Id, X-Roles, the catalog... to the environ;
            # the dump shows what the caller sent.
            seen[2] = _request_headers(environ, held)
            if 'wsgi.input' in environ:
                tee = _TeeInput(environ['wsgi.input'], self.max_body_bytes)
                environ['wsgi.input'] = tee

        def _start_response(status, headers, exc_info=None):
            if answered is not None:
                headers = answered(headers)
            seen[0] = status
            seen[1] = headers
            return start_response(status, headers, exc_info)

        def finish(size, error, body=None):
            try:
                self._emit(held, environ, seen, error, start, t0, size,
                           tee, body)
            finally:
                end()

        try:
            result = app(environ, _start_response)
        except BaseException as exc:
            finish(0, exc)
            raise
        if type(result) is list or type(result) is tuple:
            size = 0
            for chunk in result:
                size += len(chunk)
            finish(size, None, b''.join(result)[:self.max_body_bytes]
                   if capture else None)
            return result
        return _RecordingIterable(result, finish,
                                  self.max_body_bytes if capture else 0)

    def _emit(self, held, environ, seen, error, start, t0, size, tee,
              body):
        status = seen[0]
        code = None
        if status:
            try:
                code = int(status[:3])
            except ValueError:
                code = None
        if error is not None and code is None:
            code = 500
        length = environ.get('CONTENT_LENGTH')
        try:
            request_bytes = int(length) if length else 0
        except ValueError:
            request_bytes = None
        event = {
            'v': schema.VERSION,
            'kind': 'server',
            'global_request_id': held.global_id,
            'request_id': held.request_id,
            'parent_request_id': held.parent_request_id,
            'root': held.global_request_id is None,
            'service': held.service,
            'caller': held.caller,
            'host': self.host,
            'pid': os.getpid(),
            'method': environ.get('REQUEST_METHOD'),
            'path': environ.get('SCRIPT_NAME', '') + environ.get(
                'PATH_INFO', ''),
            'query': environ.get('QUERY_STRING') or None,
            'status': code,
            'error': type(error).__name__ if error is not None else None,
            'start': start,
            'duration_ms': round((time.perf_counter() - t0) * 1000.0, 3),
            'request_bytes': request_bytes,
            'response_bytes': size,
            'user_id': environ.get('HTTP_X_USER_ID'),
            'project_id': environ.get('HTTP_X_PROJECT_ID'),
        }
        if self.capture_bodies:
            response_headers = list(seen[1] or ())
            event['headers'] = {'request': seen[2],
                                'response': response_headers}
            limit = self.max_body_bytes
            event['body'] = {
                'request': (bytes(tee.captured) if tee else b'',
                            environ.get('CONTENT_TYPE'), limit),
                'response': (body or b'', _content_type(response_headers),
                             limit),
            }
        for sink in self.sinks:
            sink.emit(event)


class _RecordingIterable:
    """A streamed body: counts bytes, records when the server closes it."""

    __slots__ = ('_result', '_finish', '_size', '_keep', '_body', '_error',
                 '_done')

    def __init__(self, result, finish, keep):
        self._result = result
        self._finish = finish
        self._size = 0
        self._keep = keep
        self._body = bytearray() if keep else None
        self._error = None
        self._done = False

    def __iter__(self):
        try:
            for chunk in self._result:
                self._size += len(chunk)
                if self._keep and len(self._body) < self._keep:
                    self._body += chunk[:self._keep - len(self._body)]
                yield chunk
        except BaseException as exc:
            self._error = exc
            raise

    def close(self):
        close_then(self._result, self._finished)

    def _finished(self):
        if not self._done:
            self._done = True
            self._finish(self._size, self._error,
                         bytes(self._body) if self._keep else None)


def close_then(result, done):
    """Close a WSGI result as PEP 3333 asks, then call ``done()``."""
    try:
        close = getattr(result, 'close', None)
        if close is not None:
            close()
    finally:
        done()
