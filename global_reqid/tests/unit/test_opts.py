"""Tests of global_reqid.opts: the [global_reqid] options and their sample."""

import json

from oslo_config import cfg
from oslo_config import generator
import pytest

from global_reqid import opts

EXPECTED = {
    'service_name', 'compat_headers', 'downstream_request_id',
    'event_sinks', 'event_dir', 'event_max_bytes', 'event_backup_count',
    'event_compress', 'event_queue_size', 'capture_bodies',
    'max_body_bytes', 'filter_rules', 'instrument_outbound',
}


def test_list_opts_gives_the_global_reqid_group():
    """list_opts() lists [global_reqid] with the filter's options."""
    listed = opts.list_opts()
    assert [group for group, _ in listed] == ['global_reqid']
    assert {opt.dest for opt in listed[0][1]} == EXPECTED


def test_list_opts_equal_the_declared_options():
    """The listed options are the declared ones, value for value."""
    ((_, listed),) = opts.list_opts()
    assert listed == opts.all_opts()


def test_list_opts_returns_deep_copies():
    """Mutating list_opts()'s result leaves MIDDLEWARE_OPTS unchanged."""
    original_help = [opt.help for opt in opts.all_opts()]
    original_default = list(opts.all_opts()[1].default)
    ((_, listed),) = opts.list_opts()
    for opt in listed:
        assert all(opt is not declared for declared in opts.all_opts())
        opt.help = 'changed'
    listed[1].default.append('x-mutated')
    listed.append(cfg.StrOpt('extra'))
    assert [opt.help for opt in opts.all_opts()] == original_help
    assert opts.all_opts()[1].default == original_default
    assert len(opts.all_opts()) == len(EXPECTED)
    assert opts.list_opts()[0][1] == opts.all_opts()


def test_option_help_states_the_default():
    """Every option's help text says what its default is."""
    for opt in opts.all_opts():
        assert 'Default:' in opt.help, opt.dest


def test_listed_options_register_with_defaults():
    """The listed options register on a ConfigOpts with working defaults."""
    conf = cfg.ConfigOpts()
    for group, group_opts in opts.list_opts():
        conf.register_opts(group_opts, group=group)
    conf(args=[], default_config_files=[])
    assert conf.global_reqid.service_name is None
    assert conf.global_reqid.compat_headers == []


@pytest.fixture
def sample(tmp_path):
    """Run oslo-config-generator on our namespace; return the output path."""

    def _run(*extra):
        path = tmp_path / 'sample'
        generator.main(
            ['--namespace', 'global_reqid', '--output-file', str(path)]
            + list(extra)
        )
        return path.read_text()

    return _run


def test_generator_renders_the_sample(sample):
    """oslo-config-generator renders [global_reqid] and both options."""
    text = sample()
    lines = text.splitlines()
    assert '[global_reqid]' in lines
    assert '#service_name = <None>' in lines
    assert '#compat_headers =' in lines
    assert lines.index('[global_reqid]') < lines.index('#compat_headers =')


def test_generator_renders_help_and_types(sample):
    """The JSON sample carries each option's help and type."""
    rendered = json.loads(sample('--format', 'json'))['options']
    group = rendered['global_reqid']
    by_name = {opt['name']: opt for opt in group['opts']}
    assert set(by_name) == EXPECTED
    assert by_name['service_name']['type'] == 'string value'
    assert by_name['compat_headers']['type'] == 'list value'
    assert by_name['compat_headers']['default'] == []
    for opt in opts.all_opts():
        assert by_name[opt.dest]['help'] == opt.help


def test_event_dir_sample_default_is_the_documented_path(sample):
    """The sample shows /var/log/global-reqid, not this machine's value."""
    assert '#event_dir = /var/log/global-reqid' in sample().splitlines()
