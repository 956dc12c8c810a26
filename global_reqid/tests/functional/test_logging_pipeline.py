"""Real oslo.log output from a threaded server: no line carries stale ids."""

import concurrent.futures
import logging
import re
import textwrap

from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import formatters
from oslo_log import log as oslo_log
from paste import deploy
import pytest

from global_reqid import ids
from global_reqid import log as reqid_log
from global_reqid.tests.functional import apps

PASTE = textwrap.dedent("""\
    [pipeline:ours]
    pipeline = global_reqid versionnegotiation context echo

    [pipeline:stock]
    pipeline = request_id versionnegotiation context echo

    [filter:global_reqid]
    paste.filter_factory = global_reqid.middleware:RequestId.factory
    service_name = image-api

    [filter:request_id]
    paste.filter_factory = oslo_middleware:RequestId.factory

    [filter:versionnegotiation]
    paste.filter_factory = global_reqid.tests.functional.apps:logging_filter_factory

    [filter:context]
    paste.filter_factory = global_reqid.tests.functional.apps:context_filter_factory

    [app:echo]
    paste.app_factory = global_reqid.tests.functional.apps:echo_app_factory
    """)
LINE = re.compile(r'(?:before context|serving) (/r/\d+)')
IDS = re.compile(r'\[(\S+) (\S+) ')
REQUESTS = 60


@pytest.fixture
def oslo_logs(tmp_path):
    """Handlers with oslo.log's stock formatter and ours, on real files."""
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf([])
    logger = logging.getLogger('global_reqid.tests')
    handlers = {}
    for name, formatter in (
            ('stock', formatters.ContextFormatter(config=conf)),
            ('ours', reqid_log.ContextFormatter(config=conf))):
        handler = logging.FileHandler(tmp_path / (name + '.log'))
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        handlers[name] = handler
    logger.setLevel(logging.INFO)
    yield {n: tmp_path / (n + '.log') for n in handlers}
    for handler in handlers.values():
        logger.removeHandler(handler)
        handler.close()


def drive(tmp_path, pipeline):
    """Send concurrent requests through a pool server; return what was sent."""
    paste = tmp_path / 'api-paste.ini'
    paste.write_text(PASTE)
    app = deploy.loadapp('config:%s' % paste, name=pipeline)
    sent = {}
    sess = ks_session.Session()

    def one(n):
        global_id = ids.new_request_id() if n % 3 else None
        path = '/r/%d' % n
        with_header = {'global_request_id': global_id} if global_id else {}
        resp = sess.get(server.url + path, authenticated=False,
                        **with_header)
        sent[path] = (global_id, resp.headers['X-OpenStack-Request-ID'])

    with apps.serving(app, threads=2) as server:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(REQUESTS)))
    return sent


def lines_by_path(logfile):
    out = []
    for line in logfile.read_text().splitlines():
        match = LINE.search(line)
        if match:
            found = IDS.search(line)
            out.append((match.group(1), found.groups() if found else None))
    return out


def test_every_line_carries_its_own_request_ids(tmp_path, oslo_logs):
    """From the first middleware on, each line has its request's ids."""
    sent = drive(tmp_path, 'ours')
    lines = lines_by_path(oslo_logs['stock'])
    assert len(lines) == 2 * REQUESTS
    for path, found in lines:
        global_id, local = sent[path]
        assert found == (str(global_id), local), path


def test_our_formatter_applies_root_rule_in_the_same_run(tmp_path,
                                                          oslo_logs):
    """Our formatter shows the local id as global for root requests."""
    sent = drive(tmp_path, 'ours')
    for path, found in lines_by_path(oslo_logs['ours']):
        global_id, local = sent[path]
        assert found == (global_id or local, local), path


def test_stock_filter_leaks_previous_request_ids(tmp_path, oslo_logs):
    """Baseline: oslo's filter alone leaves earlier lines with stale ids."""
    sent = drive(tmp_path, 'stock')
    stale = [path for path, found in lines_by_path(oslo_logs['stock'])
             if found is not None and found[1] != sent[path][1]]
    assert stale, 'expected stale ids with the stock filter'
