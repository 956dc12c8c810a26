"""Tests of the entry points in setup.cfg, loaded through stevedore."""

import pytest
from stevedore import driver
from stevedore import named
import webtest

from global_reqid import ids
from global_reqid import middleware
from global_reqid import opts
from global_reqid.cmd import trace

INBOUND = 'req-22222222-2222-4222-8222-222222222222'


def load(namespace, name):
    return driver.DriverManager(
        namespace=namespace, name=name, invoke_on_load=False
    ).driver


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    body = '%s %s' % (
        environ.get(ids.ENV_GLOBAL_REQUEST_ID),
        environ.get(ids.ENV_REQUEST_ID),
    )
    return [body.encode()]


def test_paste_filter_factory_loads_request_id_factory():
    """paste.filter_factory 'global_reqid' is RequestId.factory."""
    factory = load('paste.filter_factory', 'global_reqid')
    assert factory == middleware.RequestId.factory


def test_paste_filter_factory_builds_a_working_filter(tmp_path):
    """The loaded factory builds a filter that gives and answers ids."""
    conf_file = tmp_path / 'svc.conf'
    conf_file.write_text('[global_reqid]\nservice_name = from-file\n')
    factory = load('paste.filter_factory', 'global_reqid')
    filter_ = factory(
        {'__file__': str(tmp_path / 'api-paste.ini')},
        oslo_config_project='svc',
        oslo_config_file=str(conf_file),
        compat_headers='x-compute-request-id',
    )(app)
    assert isinstance(filter_, middleware.RequestId)
    assert filter_.service_name == 'from-file'

    response = webtest.TestApp(filter_).get(
        '/', headers={ids.REQUEST_ID_HEADER: INBOUND}
    )
    local = response.headers[ids.REQUEST_ID_HEADER]
    assert ids.is_valid_request_id(local)
    assert local != INBOUND
    assert response.headers['x-compute-request-id'] == local
    assert response.text == '%s %s' % (INBOUND, local)


def test_paste_filter_factory_rejects_unknown_options():
    """A misspelled paste option is an error when the filter is loaded."""
    factory = load('paste.filter_factory', 'global_reqid')
    with pytest.raises(middleware.ConfigError, match='servce_name'):
        factory({}, servce_name='glance-api')


def test_oslo_config_opts_loads_list_opts():
    """oslo.config.opts 'global_reqid' is opts.list_opts."""
    assert load('oslo.config.opts', 'global_reqid') is opts.list_opts


def test_console_script_loads_trace_main():
    """console_scripts 'global-reqid-trace' is cmd.trace.main."""
    assert load('console_scripts', 'global-reqid-trace') is trace.main


@pytest.mark.parametrize(
    'namespace', ['paste.filter_factory', 'oslo.config.opts']
)
def test_name_is_registered_once(namespace):
    """'global_reqid' is one extension in its namespace, not shadowed."""
    manager = named.NamedExtensionManager(
        namespace=namespace, names=['global_reqid']
    )
    ours = manager.extensions
    assert len(ours) == 1
    assert ours[0].entry_point.value.startswith('global_reqid.')
