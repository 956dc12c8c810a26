"""The object-store stand-in of the demo (not swift).

``PUT`` and ``GET /v1/AUTH_<project>/<container>/<object>``, objects in
memory, each account readable and writable by its project's tokens only.
"""

import hashlib
import logging
import re
import threading

from global_reqid.cmd._demo import common

_OBJECT_PATH = re.compile(
    r'/v1/AUTH_([0-9a-f]{32})/([^/]{1,256})/([^/]{1,1024})')


class Swift:
    """The object-store stand-in: objects in memory, per project."""

    def __init__(self):
        self.log = logging.getLogger('swift.proxy.server')
        self._objects = {}
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        method = environ['REQUEST_METHOD']
        match = _OBJECT_PATH.fullmatch(environ.get('PATH_INFO', ''))
        if match is None:
            return common.error(start_response, '404 Not Found', 'Not Found')
        if match[1] != environ.get('HTTP_X_PROJECT_ID'):
            return common.error(start_response, '403 Forbidden',
                                'Not your account.')
        key = match.groups()
        if method == 'PUT':
            data = common.read(environ)
            etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
            with self._lock:
                self._objects[key] = data
            self.log.info('Object %s/%s stored: %d bytes, etag %s',
                          key[1], key[2], len(data), etag)
            return common.answer(start_response, '201 Created',
                                 headers=[('Etag', etag)])
        if method == 'GET':
            with self._lock:
                data = self._objects.get(key)
            if data is None:
                return common.error(start_response, '404 Not Found',
                                    'Not Found')
            start_response('200 OK', [
                ('Content-Type', 'application/octet-stream'),
                ('Content-Length', str(len(data)))])
            return [data]
        return common.error(start_response, '405 Method Not Allowed',
                            'The method is not allowed.')


def swift_factory(global_conf):
    """paste.app_factory of the object-store stand-in."""
    return Swift()
