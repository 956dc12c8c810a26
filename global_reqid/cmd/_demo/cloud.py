"""The demo's cloud: three paste pipelines served on 127.0.0.1.

:class:`Cloud` writes one ``api-paste.ini`` per service, loads each with
PasteDeploy (our filter first, with outbound instrumentation and the file
sink on), serves it with a threaded wsgiref server on ``127.0.0.1:0`` and
sends each service's log lines, formatted by
:class:`global_reqid.log.ContextFormatter`, to its own file. Leaving the
``with`` block stops the servers, waits for the events to be written,
removes the log handlers and undoes the instrumentation.
"""

import contextlib
import logging
import os
import socketserver
import threading
from wsgiref import simple_server

from oslo_config import cfg
from oslo_log import log as oslo_log
from paste import deploy

from global_reqid import client
from global_reqid import log as reqid_log

#: (service, logger names whose lines go to <service>.log), started in
#: this order.
SERVICES = (
    ('keystone', ('keystone',)),
    ('swift', ('swift',)),
    ('glance-api', ('glance',)),
)
USER = 'demo'
PROJECT = 'demo'

_FILTER = """\
[filter:global_reqid]
paste.filter_factory = global_reqid.middleware:RequestId.factory
service_name = {service}
event_dir = {events}
instrument_outbound = true
capture_bodies = true
"""
_CHECK_FILTER = """
[filter:tokencheck]
paste.filter_factory = global_reqid.cmd._demo.tokencheck:token_check_factory
identity_url = {keystone}
log_name = {logger}.tokencheck
"""
_PIPELINES = {
    'keystone': """
[pipeline:main]
pipeline = global_reqid keystone

[app:keystone]
paste.app_factory = global_reqid.cmd._demo.keystone:keystone_factory
user = {user}
password_sha256 = {password_sha256}
project = {project}
image_url = {glance-api}
object_store_url = {swift}
""",
    'swift': _CHECK_FILTER + """
[pipeline:main]
pipeline = global_reqid tokencheck swift

[app:swift]
paste.app_factory = global_reqid.cmd._demo.swift:swift_factory
""",
    'glance-api': _CHECK_FILTER + """
[pipeline:main]
pipeline = global_reqid tokencheck glance

[app:glance]
paste.app_factory = global_reqid.cmd._demo.glance:glance_factory
object_store_url = {swift}
""",
}


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    # NOTE: server_close() joins the request threads: an event is recorded
    # when the server closes a body, which may be after the client has its
    # answer; the events are flushed only once every request has ended.
    daemon_threads = False
    block_on_close = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def paste_config(service, values):
    """The api-paste.ini text of ``service``; ``values`` fills it in.

    ``values`` maps ``events``, ``user``, ``password_sha256``, ``project``
    and each service name (its URL) to their values.
    """
    # NOTE: PasteDeploy interpolates "%(name)s" in values: a "%" in a
    # path must be doubled.
    safe = {key: str(value).replace('%', '%%')
            for key, value in values.items()}
    logger = dict(SERVICES)[service][0]
    text = _FILTER + _PIPELINES[service]
    return text.format_map(dict(safe, service=service, logger=logger))


class Cloud:
    """The running cloud; a context manager.

    ``directory`` gets ``etc/<service>/api-paste.ini``, ``logs/<service>.log``
    and ``events/``. Inside the block, :attr:`urls` maps each service to
    ``http://127.0.0.1:<port>``.
    """

    def __init__(self, directory, password_sha256):
        self.directory = directory
        self.events_dir = os.path.join(directory, 'events')
        self.logs_dir = os.path.join(directory, 'logs')
        self.password_sha256 = password_sha256
        self.urls = {}
        self.filters = {}
        self._stack = None

    def __enter__(self):
        with contextlib.ExitStack() as stack:
            os.makedirs(self.events_dir, exist_ok=True)
            os.makedirs(self.logs_dir, exist_ok=True)
            if not client.is_instrumented():
                # NOTE: the filters instrument this process when they load;
                # undone at the end unless someone had done it before us.
                stack.callback(client.uninstrument)
            servers = {}
            for service, loggers in SERVICES:
                stack.enter_context(_service_log(
                    os.path.join(self.logs_dir, service + '.log'), loggers))
                server = _Server(('127.0.0.1', 0), _QuietHandler)
                stack.callback(server.server_close)
                servers[service] = server
                self.urls[service] = 'http://127.0.0.1:%d' % (
                    server.server_address[1])
            values = dict(self.urls, events=self.events_dir, user=USER,
                          project=PROJECT,
                          password_sha256=self.password_sha256)
            for service, _ in SERVICES:
                app = deploy.loadapp('config:' + self._write_paste(
                    service, values))
                self.filters[service] = app
                stack.callback(app.close)
                servers[service].set_app(app)
                stack.enter_context(_serving(servers[service]))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc):
        stack, self._stack = self._stack, None
        stack.close()

    def _write_paste(self, service, values):
        folder = os.path.join(self.directory, 'etc', service)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, 'api-paste.ini')
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(paste_config(service, values))
        return path


@contextlib.contextmanager
def _serving(server):
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextlib.contextmanager
def _service_log(path, names):
    """Send the lines of loggers ``names`` (INFO and up) to ``path`` only."""
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf([], project='global_reqid_demo', default_config_files=[],
         default_config_dirs=[])
    handler = logging.FileHandler(path, encoding='utf-8')
    handler.setFormatter(reqid_log.ContextFormatter(
        config=conf, datefmt=conf.log_date_format))
    loggers = [logging.getLogger(name) for name in names]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()
