"""Real api-paste.ini pipelines loaded by PasteDeploy, ours beside oslo's."""

import json
import textwrap

from oslo_middleware import request_id as oslo_request_id
from paste import deploy
import pytest
import webtest

from global_reqid import ids
from global_reqid import middleware

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'

PASTE = textwrap.dedent("""\
    [DEFAULT]
    debug = true

    [pipeline:ours]
    pipeline = global_reqid echo

    [pipeline:oslo]
    pipeline = request_id echo

    [pipeline:nova]
    pipeline = nova_reqid echo

    [pipeline:placement_like]
    pipeline = global_reqid_global request_id echo

    [filter:global_reqid_global]
    paste.filter_factory = global_reqid.middleware:RequestId.factory
    downstream_request_id = global

    [pipeline:misspelled]
    pipeline = misspelled echo

    [filter:global_reqid]
    paste.filter_factory = global_reqid.middleware:RequestId.factory

    [filter:nova_reqid]
    use = egg:global_reqid#global_reqid
    service_name = nova-api
    compat_headers = x-compute-request-id

    [filter:misspelled]
    paste.filter_factory = global_reqid.middleware:RequestId.factory
    servce_name = nova-api

    [filter:request_id]
    paste.filter_factory = oslo_middleware:RequestId.factory

    [app:echo]
    paste.app_factory = global_reqid.tests.functional.apps:echo_app_factory
    """)


@pytest.fixture(scope='module')
def paste_ini(tmp_path_factory):
    folder = tmp_path_factory.mktemp('glance', numbered=False)
    path = folder / 'glance-api-paste.ini'
    path.write_text(PASTE)
    return path


def load(paste_ini, name):
    return webtest.TestApp(deploy.loadapp('config:%s' % paste_ini,
                                          name=name))


def test_filter_from_paste_sets_ids_and_answers(paste_ini):
    """Our filter loaded from api-paste.ini sets both ids and answers one."""
    app = load(paste_ini, 'ours')
    resp = app.get('/v2/images', headers={'X-OpenStack-Request-ID': GLOBAL})
    seen = resp.json
    assert seen['global_request_id'] == GLOBAL
    assert ids.is_valid_request_id(seen['request_id'])
    assert resp.headers['X-OpenStack-Request-ID'] == seen['request_id']
    assert seen['oslo'] == [seen['request_id'], GLOBAL]
    # The service name comes from the paste file's name.
    assert seen['held']['service'] == 'glance-api'


def test_entry_point_filter_with_options(paste_ini):
    """``use = egg:global_reqid#global_reqid`` loads through the entry point."""
    resp = load(paste_ini, 'nova').get('/')
    assert resp.headers['x-compute-request-id'] == resp.json['request_id']
    assert resp.json['held']['service'] == 'nova-api'


def test_misspelled_option_fails_loadapp(paste_ini):
    """A misspelled filter option stops the pipeline from loading."""
    with pytest.raises(middleware.ConfigError, match='servce_name'):
        deploy.loadapp('config:%s' % paste_ini, name='misspelled')


VALID_INPUTS = [None, GLOBAL, ids.new_request_id()]
OSLO_WRONGLY_ACCEPTS = [GLOBAL + '\n']
BOTH_REJECT = ['', 'req-x', GLOBAL.upper(), GLOBAL[:-1], GLOBAL + 'a',
               'x' * 200, 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f\u0669']


def _exchange(app, inbound):
    headers = {} if inbound is None else {'X-OpenStack-Request-ID': inbound}
    resp = app.get('/', headers=headers)
    return resp.json, {k.lower() for k in resp.headers}


@pytest.mark.parametrize('inbound', VALID_INPUTS + BOTH_REJECT)
def test_same_environ_and_headers_as_oslo(paste_ini, inbound):
    """Swapped in for oslo's filter: same environ keys and answer headers."""
    ours, our_headers = _exchange(load(paste_ini, 'ours'), inbound)
    oslo, oslo_headers = _exchange(load(paste_ini, 'oslo'), inbound)
    assert ours['global_request_id'] == oslo['global_request_id']
    assert ids.is_valid_request_id(ours['request_id'])
    assert ids.is_valid_request_id(oslo['request_id'])
    assert our_headers == oslo_headers


@pytest.mark.parametrize('inbound', OSLO_WRONGLY_ACCEPTS)
def test_we_reject_what_oslo_wrongly_accepts(paste_ini, inbound):
    """A trailing newline passes oslo's ``re.match(...$)`` but not ours."""
    assert oslo_request_id.re.match(oslo_request_id.ID_FORMAT, inbound)
    ours, _ = _exchange(load(paste_ini, 'ours'), inbound)
    oslo, _ = _exchange(load(paste_ini, 'oslo'), inbound)
    assert oslo['global_request_id'] == inbound
    assert ours['global_request_id'] is None


def test_app_never_sees_raw_inbound_header(paste_ini):
    """The app never sees the raw inbound header, only our local id."""
    resp = load(paste_ini, 'ours').get(
        '/', headers={'X-OpenStack-Request-ID': 'x' * 100})
    assert resp.json['inbound_header'] == resp.json['request_id']
    assert json.dumps(resp.json).find('x' * 100) == -1


def test_oslo_request_id_subclass_downstream_keeps_global(paste_ini):
    """downstream_request_id = global: oslo's filter behind ours keeps G."""
    resp = load(paste_ini, 'placement_like').get(
        '/', headers={'X-OpenStack-Request-ID': GLOBAL})
    assert resp.json['global_request_id'] == GLOBAL
    ours = load(paste_ini, 'placement_like').get(
        '/', headers={'X-OpenStack-Request-ID': GLOBAL + '\n'})
    assert ours.json['global_request_id'] is None
