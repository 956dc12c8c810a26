"""Drive glance's real context middleware behind a paste pipeline.

Run as a program (glance's global CONF stays out of the test process):
``python -m global_reqid.tests.functional.glance_probe PASTE LOGFILE`` reads
a JSON list of ``[pipeline, inbound_header_or_null]`` on stdin and prints,
per request, the status, the answered id and the ids in glance's context.
"""

import json
import logging
import sys

from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import formatters
from oslo_log import log as oslo_log
from paste import deploy
import webtest

IDENTITY = {'X-Identity-Status': 'Confirmed', 'X-User-Id': 'u1',
            'X-Project-Id': 'p1', 'X-Roles': 'admin,member'}
LOG = logging.getLogger('glance.api.v2.images')


def probe_app(environ, start_response):
    """Log like glance's API does and answer the current context's ids."""
    ctx = oslo_context.get_current()
    LOG.info('image list for %s', environ.get('PATH_INFO'))
    body = json.dumps([ctx.request_id, ctx.global_request_id]).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def probe_app_factory(global_conf, **local_conf):
    return probe_app


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    paste, logfile = argv
    import glance.common.config  # noqa: F401  (registers glance options)
    oslo_log.register_options(cfg.CONF)
    cfg.CONF(args=[], project='glance', default_config_files=[])
    handler = logging.FileHandler(logfile)
    handler.setFormatter(formatters.ContextFormatter(config=cfg.CONF))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    results = []
    for pipeline, inbound in json.load(sys.stdin):
        app = webtest.TestApp(deploy.loadapp('config:' + paste,
                                             name=pipeline))
        headers = dict(IDENTITY)
        if inbound is not None:
            headers['X-OpenStack-Request-ID'] = inbound
        try:
            resp = app.get('/v2/images', headers=headers,
                           expect_errors=True)
        except Exception as exc:
            # A WSGI server answers an exception escaping the app with 500.
            results.append({'status': 500, 'error': type(exc).__name__})
            continue
        results.append({
            'status': resp.status_int,
            'answered': resp.headers.get('X-OpenStack-Request-ID'),
            'context': resp.json if resp.status_int == 200 else None,
        })
    handler.flush()
    json.dump(results, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
