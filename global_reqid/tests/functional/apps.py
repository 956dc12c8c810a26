"""Small real WSGI apps, paste factories and a thread-pool HTTP server.

Used by the functional tests: pipelines are loaded from real api-paste.ini
files with PasteDeploy and served on 127.0.0.1.
"""

import concurrent.futures
import json
import logging
import socketserver
import threading
from wsgiref import simple_server

from oslo_context import context as oslo_context

from global_reqid import context as reqid_context
from global_reqid import ids

LOG = logging.getLogger('global_reqid.tests.app')


def echo_app(environ, start_response):
    """Answer, as JSON, the ids the app saw in its environ and context."""
    held = reqid_context.current()
    oslo = oslo_context.get_current()
    LOG.info('serving %s', environ.get('PATH_INFO'))
    body = json.dumps({
        'request_id': environ.get(ids.ENV_REQUEST_ID),
        'global_request_id': environ.get(ids.ENV_GLOBAL_REQUEST_ID),
        'inbound_header': environ.get(ids.HTTP_REQUEST_ID),
        'caller': environ.get(ids.ENV_CALLER),
        'parent': environ.get(ids.ENV_PARENT_REQUEST_ID),
        'held': held._asdict() if held else None,
        'oslo': [oslo.request_id, oslo.global_request_id] if oslo else None,
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


def echo_app_factory(global_conf, **local_conf):
    """paste.app_factory for :func:`echo_app`."""
    return echo_app


class LoggingFilter:
    """A middleware that logs a line, like glance's versionnegotiation."""

    def __init__(self, app, name):
        self.app = app
        self.log = logging.getLogger('global_reqid.tests.' + name)

    def __call__(self, environ, start_response):
        self.log.info('before context %s', environ.get('PATH_INFO'))
        return self.app(environ, start_response)


def logging_filter_factory(global_conf, name='versionnegotiation'):
    """paste.filter_factory for :class:`LoggingFilter`."""
    return lambda app: LoggingFilter(app, name)


class ContextFilter:
    """A service's context middleware: builds the context from the environ."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        environ['context'] = oslo_context.RequestContext.from_environ(
            environ)
        return self.app(environ, start_response)


def context_filter_factory(global_conf):
    """paste.filter_factory for :class:`ContextFilter`."""
    return ContextFilter


class _PoolServer(socketserver.TCPServer):
    """Serves each connection on a fixed pool of reused threads.

    Like gunicorn's gthread workers and eventlet pools, and unlike
    ThreadingMixIn, one thread serves many requests in turn: the condition
    under which a never-cleared thread-local leaks ids between requests.
    """

    allow_reuse_address = True

    def __init__(self, address, handler, threads):
        super().__init__(address, handler)
        self.pool = concurrent.futures.ThreadPoolExecutor(threads)

    def process_request(self, request, client_address):
        self.pool.submit(self._serve_one, request, client_address)

    def _serve_one(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self):
        super().server_close()
        self.pool.shutdown(wait=True)


class _WSGIServer(_PoolServer, simple_server.WSGIServer):
    pass


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class serving:
    """Serve a WSGI app on 127.0.0.1 in a thread pool; a context manager."""

    def __init__(self, app, threads=2):
        self.app = app
        self.threads = threads

    def __enter__(self):
        self.server = _WSGIServer(('127.0.0.1', 0), _QuietHandler,
                                  self.threads)
        self.server.set_app(self.app)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={'poll_interval': 0.05},
                                       daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = 'http://%s:%d' % (host, port)
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
