"""``global-reqid-trace demo``: two services on 127.0.0.1, one action.

An embedded default that needs no cloud: a "compute-api" and an "image-api"
WSGI service, each behind the global_reqid filter, logging through
oslo.log with :class:`global_reqid.log.ContextFormatter`. One client call
with a fresh global id reaches compute-api, which calls image-api through a
keystoneauth1 session; the log lines of both carry the one global id.
"""

import argparse
import io
import logging
import socketserver
import sys
import tempfile
import threading
from wsgiref import simple_server

from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import log as oslo_log

from global_reqid import context as reqid_context
from global_reqid import ids
from global_reqid import log as reqid_log
from global_reqid import middleware
from global_reqid.events import reader

LOG = logging.getLogger('global_reqid.demo')
FORMAT = ('%(asctime)s.%(msecs)03d %(levelname)s %(name)s '
          '[%(global_request_id)s %(request_id)s] %(message)s')


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _Quiet(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _serve(app):
    server = _Server(('127.0.0.1', 0), _Quiet)
    server.set_app(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, 'http://127.0.0.1:%d' % server.server_address[1]


def _image_api(environ, start_response):
    logging.getLogger('image.api').info('GET %s: image found',
                                        environ['PATH_INFO'])
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [b'{"image": {"status": "active"}}']


def _compute_api(image_url):
    sess = ks_session.Session()

    def app(environ, start_response):
        ctx = reqid_context.from_environ(environ)
        log = logging.getLogger('compute.api')
        log.info('POST %s: creating a server', environ['PATH_INFO'])
        # NOTE: until the outbound hook lands, the call carries the ids the
        # way services do today: global_request_id=context.global_id.
        resp = sess.get(image_url + '/v2/images/cirros', authenticated=False,
                        global_request_id=ctx.global_id,
                        headers={ids.CALLER_HEADER: 'compute-api',
                                 ids.PARENT_HEADER: ctx.request_id})
        log.info('image-api answered %s with request id %s',
                 resp.status_code, resp.headers[ids.REQUEST_ID_HEADER])
        start_response('202 Accepted', [('Content-Type', 'text/plain')])
        return [b'accepted']
    return app


def run(out, event_dir=None):
    """Run the demo, writing its report to ``out``; return the exit status.

    Events go to ``event_dir`` (a new temporary directory by default).
    """
    event_dir = event_dir or tempfile.mkdtemp(prefix='global-reqid-demo-')
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf([], default_config_files=[])
    conf.set_override('logging_context_format_string', FORMAT)
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(reqid_log.ContextFormatter(
        config=conf, datefmt=conf.log_date_format))
    loggers = [logging.getLogger(n) for n in ('compute.api', 'image.api')]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    image_filter = middleware.RequestId(
        _image_api, {'service_name': 'image-api', 'event_dir': event_dir})
    image, image_url = _serve(image_filter)
    compute_filter = middleware.RequestId(
        _compute_api(image_url),
        {'service_name': 'compute-api', 'event_dir': event_dir})
    compute, compute_url = _serve(compute_filter)
    try:
        global_id = ids.new_request_id()
        out.write('client sends X-OpenStack-Request-ID: %s\n' % global_id)
        resp = ks_session.Session().post(
            compute_url + '/v2.1/servers', authenticated=False,
            global_request_id=global_id, json={'server': {}})
        out.write('compute-api answered %s, its local id %s\n\n' % (
            resp.status_code, resp.headers[ids.REQUEST_ID_HEADER]))
    finally:
        for server in (compute, image):
            server.shutdown()
            server.server_close()
        for logger in loggers:
            logger.removeHandler(handler)
            logger.propagate = True
    lines = captured.getvalue().splitlines()
    out.write('log lines of both services:\n')
    for line in lines:
        out.write('  %s\n' % line)
    services = {line.split()[3].split('.')[0] for line in lines
                if global_id in line}
    image_filter.flush()
    compute_filter.flush()
    events = sorted((e for e in reader.iter_directory(event_dir)
                     if e.get('global_request_id') == global_id),
                    key=lambda e: e['start'])
    out.write('\nsequence events in %s:\n' % event_dir)
    for event in events:
        out.write('  %s %-11s -> %-11s %-4s %-22s %s %7.1f ms  %s\n' % (
            event['start'][11:23], event['caller'] or 'client',
            event['service'], event['method'], event['route'],
            event['status'], event['duration_ms'], event['request_id']))
    ok = services == {'compute', 'image'} and len(events) == 2
    out.write('\n%s: the global id is in the logs of %s\n' % (
        'OK' if ok else 'FAILED', ', '.join(sorted(services)) or 'nothing'))
    return 0 if ok else 1


def main(argv=None):
    """Entry point of ``global-reqid-trace demo``."""
    parser = argparse.ArgumentParser(
        prog='global-reqid-trace demo', description=__doc__.replace(
            '``', ''), formatter_class=argparse.RawDescriptionHelpFormatter)
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code
    return run(sys.stdout)
