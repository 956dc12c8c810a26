"""Tests of global_reqid.events.rules: the filter rules file."""

import json
import logging
import os
import threading
import time

import pytest

from global_reqid.events import route
from global_reqid.events import rules

LOGGER = 'global_reqid.events.rules'
UUID = '5c5a3d6e-1f8a-4c2b-9a7e-3b2f0e1d4c6a'

# requestshook's should_not_hook.json, from the seed, as it was written.
SEED = {
    'mappings': {
        '{uuid}': '([a-fA-F0-9-]+)',
        '{version}': '(v[0-9.]+)',
        '{name}': '(.+?)',
        '{endpoint_id}': '([a-fA-F0-9]+)',
    },
    'filters': [
        {
            'from': 'nova-compute',
            'to': 'placement-api',
            'method': 'GET',
            'urls': [
                '/placement/resource_providers',
                '/placement/resource_providers/{uuid}/inventories',
                '/placement/resource_providers/{uuid}/aggregates',
                '/placement/resource_providers/{uuid}/allocations',
                '/placement/resource_providers/{uuid}/traits',
            ],
        },
        {'from': 'placement-api', 'to': 'keystone', 'urls': ['/identity/']},
        {'from': 'Swift', 'to': 'swift-proxy-server', 'method': 'HEAD'},
        {
            'from': 'glance-api',
            'to': 'keystone',
            'method': 'GET',
            'urls': [
                '/identity/{version}/limits',
                '/identity/{version}/registered_limits',
                '/identity/{version}/endpoints/{endpoint_id}',
            ],
        },
    ],
}

SEED_YAML = """\
# The seed's should_not_hook.json, as YAML.
mappings:
  "{uuid}": "([a-fA-F0-9-]+)"
  "{version}": "(v[0-9.]+)"
  "{name}": "(.+?)"
  "{endpoint_id}": "([a-fA-F0-9]+)"
filters:
  - from: nova-compute
    to: placement-api
    method: GET
    urls:
      - /placement/resource_providers
      - /placement/resource_providers/{uuid}/inventories
      - /placement/resource_providers/{uuid}/aggregates
      - /placement/resource_providers/{uuid}/allocations
      - /placement/resource_providers/{uuid}/traits
  - from: placement-api
    to: keystone
    urls: [/identity/]
  - {from: Swift, to: swift-proxy-server, method: HEAD}
  - from: glance-api
    to: keystone
    method: GET
    urls:
      - /identity/{version}/limits
      - /identity/{version}/registered_limits
      - /identity/{version}/endpoints/{endpoint_id}
"""

# (caller, callee, method, path, skipped) against the seed's rules.
SEED_CASES = [
    ('nova-compute', 'placement-api', 'GET',
     '/placement/resource_providers', True),
    ('nova-compute', 'placement-api', 'GET',
     '/placement/resource_providers?in_tree=%s' % UUID, True),
    ('nova-compute', 'placement-api', 'GET',
     '/placement/resource_providers/%s/inventories' % UUID, True),
    ('nova-compute', 'placement-api', 'GET',
     '/placement/resource_providers/%s/traits' % UUID, True),
    ('nova-compute', 'placement-api', 'PUT',
     '/placement/resource_providers/%s/inventories' % UUID, False),
    ('nova-compute', 'placement-api', 'GET',
     '/placement/resource_providers/%s' % UUID, False),
    ('nova-compute', 'placement-api', 'GET',
     '/placement/resource_providers/%s/usages' % UUID, False),
    ('nova-scheduler', 'placement-api', 'GET',
     '/placement/resource_providers', False),
    ('nova-compute', 'nova-api', 'GET',
     '/placement/resource_providers', False),
    ('placement-api', 'keystone', 'POST', '/identity/v3/auth/tokens', True),
    ('placement-api', 'keystone', 'GET', '/identity', True),
    ('placement-api', 'keystone', 'GET', '/identity/', True),
    ('placement-api', 'keystone', 'GET', '/identityx/v3', False),
    ('placement-api', 'glance-api', 'GET', '/identity/v3', False),
    ('nova-api', 'keystone', 'POST', '/identity/v3/auth/tokens', False),
    ('Swift', 'swift-proxy-server', 'HEAD', '/v1/AUTH_demo/c/o', True),
    ('Swift', 'swift-proxy-server', 'GET', '/v1/AUTH_demo/c/o', False),
    ('swift', 'swift-proxy-server', 'HEAD', '/v1/AUTH_demo/c/o', False),
    ('glance-api', 'keystone', 'GET', '/identity/v3/limits', True),
    ('glance-api', 'keystone', 'GET', '/identity/v3.14/limits', True),
    ('glance-api', 'keystone', 'GET', '/identity/v3/registered_limits', True),
    ('glance-api', 'keystone', 'GET',
     '/identity/v3/endpoints/0123abcdef', True),
    ('glance-api', 'keystone', 'GET', '/identity/v3/endpoints/xyz', False),
    ('glance-api', 'keystone', 'GET', '/identity/v3/limits/extra', False),
    ('glance-api', 'keystone', 'GET', '/identity/v3/projects', False),
    ('glance-api', 'keystone', 'POST', '/identity/v3/limits', False),
    (None, 'keystone', 'GET', '/identity/v3/limits', False),
]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    def records(level):
        return [r for r in caplog.records
                if r.name == LOGGER and r.levelno == level]
    return records


def write(path, text):
    """Write a rules file and move its mtime on, so every write is seen."""
    mtime = os.stat(path).st_mtime_ns if path.exists() else 10 ** 18
    path.write_text(text, encoding='utf-8')
    os.utime(path, ns=(mtime + 10 ** 9, mtime + 10 ** 9))


def replace(path, text):
    """Write a rules file atomically, as operators are told to."""
    new = path.with_name(path.name + '.new')
    write(new, text)
    mtime = os.stat(path).st_mtime_ns + 10 ** 9
    os.utime(new, ns=(mtime, mtime))
    os.replace(new, path)


def rules_text(*filters, mappings=None):
    data = {'filters': list(filters)}
    if mappings is not None:
        data['mappings'] = mappings
    return json.dumps(data)


def seed_files(tmp_path):
    json_path = tmp_path / 'should_not_hook.json'
    json_path.write_text(json.dumps(SEED, indent=4), encoding='utf-8')
    yaml_path = tmp_path / 'should_not_hook.yaml'
    yaml_path.write_text(SEED_YAML, encoding='utf-8')
    bare_json = tmp_path / 'rules-json'
    bare_json.write_text(json.dumps(SEED), encoding='utf-8')
    bare_yaml = tmp_path / 'rules-yaml'
    bare_yaml.write_text(SEED_YAML, encoding='utf-8')
    return [json_path, yaml_path, bare_json, bare_yaml]


@pytest.mark.parametrize('case', SEED_CASES, ids=lambda c: '%s>%s %s %s' % (
    c[0], c[1], c[2], c[3]))
def test_seed_file_as_json_and_yaml(tmp_path, case):
    """The seed's file skips exactly the calls it names, JSON or YAML."""
    caller, callee, method, path, expected = case
    for file in seed_files(tmp_path):
        ruleset = rules.parse_file(str(file))
        assert len(ruleset) == 4
        assert ruleset.skip(caller, callee, method, path) is expected, file
        watched = rules.Rules(str(file))
        assert watched.skip(caller, callee, method, path) is expected, file


def test_yaml_and_json_compile_alike(tmp_path):
    """An equivalent YAML file gives the same decisions as the JSON one."""
    json_rules = rules.load(json.dumps(SEED), 'x.json')
    yaml_rules = rules.load(SEED_YAML, 'x.yml')
    for caller, callee, method, path, _ in SEED_CASES:
        assert (json_rules.skip(caller, callee, method, path)
                == yaml_rules.skip(caller, callee, method, path))


def test_prefix_template_matches_the_tree_under_it():
    """A template ending in '/' matches itself, without the slash, below."""
    ruleset = rules.load(rules_text({'urls': ['/identity/', '/exact']}))
    assert ruleset.skip('a', 'b', 'GET', '/identity')
    assert ruleset.skip('a', 'b', 'GET', '/identity/')
    assert ruleset.skip('a', 'b', 'GET', '/identity/v3/auth/tokens')
    assert ruleset.skip('a', 'b', 'GET', '/identity/v3\n/x')
    assert not ruleset.skip('a', 'b', 'GET', '/identityx')
    assert not ruleset.skip('a', 'b', 'GET', '/other/identity/v3')
    assert ruleset.skip('a', 'b', 'GET', '/exact')
    assert ruleset.skip('a', 'b', 'GET', '/exact?x=1')
    assert not ruleset.skip('a', 'b', 'GET', '/exact/')
    assert not ruleset.skip('a', 'b', 'GET', '/exact/more')
    assert not ruleset.skip('a', 'b', 'GET', '/exactly')


def test_root_prefix_matches_every_path():
    """The template '/' matches every path, and an empty path as '/'."""
    ruleset = rules.load(rules_text({'to': 'keystone', 'urls': ['/']}))
    assert ruleset.skip(None, 'keystone', 'GET', '/')
    assert ruleset.skip(None, 'keystone', 'GET', '')
    assert ruleset.skip(None, 'keystone', 'GET', '/v3/auth/tokens')
    assert not ruleset.skip(None, 'nova-api', 'GET', '/')


def test_placeholder_prefix_template():
    """A prefix template may end in a placeholder."""
    ruleset = rules.load(rules_text({'urls': ['/v2/images/{uuid}/']}))
    assert ruleset.skip('a', 'b', 'GET', '/v2/images/%s/file' % UUID)
    assert ruleset.skip('a', 'b', 'GET', '/v2/images/%s' % UUID)
    assert not ruleset.skip('a', 'b', 'GET', '/v2/images/not-a-uuid/file')


def test_literal_parts_are_escaped():
    """Regex characters in a template's literal parts match only themselves."""
    ruleset = rules.load(rules_text({'urls': ['/a.b/c+d/(e)']}))
    assert ruleset.skip('a', 'b', 'GET', '/a.b/c+d/(e)')
    assert not ruleset.skip('a', 'b', 'GET', '/aXb/c+d/(e)')
    assert not ruleset.skip('a', 'b', 'GET', '/a.b/ccd/(e)')


def test_method_is_case_insensitive():
    """Methods compare case-insensitively, in the file and in requests."""
    ruleset = rules.load(rules_text({'method': 'get'}, {'method': 'HEAD'}))
    assert ruleset.skip('a', 'b', 'GET', '/')
    assert ruleset.skip('a', 'b', 'Get', '/')
    assert ruleset.skip('a', 'b', 'head', '/')
    assert not ruleset.skip('a', 'b', 'POST', '/')
    assert not ruleset.skip('a', 'b', 'post', '/')


def test_service_names_are_exact_and_case_sensitive():
    """from and to compare exactly: no case folding, no substrings."""
    ruleset = rules.load(rules_text({'from': 'nova-compute', 'to': 'Swift'}))
    assert ruleset.skip('nova-compute', 'Swift', 'GET', '/')
    assert not ruleset.skip('Nova-Compute', 'Swift', 'GET', '/')
    assert not ruleset.skip('nova-compute', 'swift', 'GET', '/')
    assert not ruleset.skip('nova', 'Swift', 'GET', '/')
    assert not ruleset.skip(None, 'Swift', 'GET', '/')


def test_list_values_match_any_item():
    """from, to and method lists match any of their items, keys ANDed."""
    ruleset = rules.load(rules_text({
        'from': ['nova-compute', 'nova-scheduler'],
        'to': ['placement-api', 'placement'],
        'method': ['GET', 'head'],
        'urls': ['/placement/usages', '/placement/traits'],
    }))
    for caller in ('nova-compute', 'nova-scheduler'):
        for callee in ('placement-api', 'placement'):
            for method in ('GET', 'HEAD'):
                for path in ('/placement/usages', '/placement/traits'):
                    assert ruleset.skip(caller, callee, method, path)
    assert not ruleset.skip('nova-api', 'placement', 'GET',
                            '/placement/usages')
    assert not ruleset.skip('nova-compute', 'keystone', 'GET',
                            '/placement/usages')
    assert not ruleset.skip('nova-compute', 'placement', 'PUT',
                            '/placement/usages')
    assert not ruleset.skip('nova-compute', 'placement', 'GET',
                            '/placement/allocations')


def test_missing_keys_match_anything():
    """A filter with only a method skips that method from anyone to anyone."""
    ruleset = rules.load(rules_text({'method': 'OPTIONS'}))
    assert ruleset.skip(None, None, 'OPTIONS', '/any/path')
    assert ruleset.skip('x', 'y', 'OPTIONS', '/')
    assert not ruleset.skip('x', 'y', 'GET', '/')


def test_filters_are_ored():
    """A request is skipped when any one filter matches it."""
    ruleset = rules.load(rules_text(
        {'from': 'a', 'urls': ['/one']}, {'to': 'b', 'urls': ['/two']}))
    assert ruleset.skip('a', 'z', 'GET', '/one')
    assert ruleset.skip('z', 'b', 'GET', '/two')
    assert ruleset.skip('a', 'b', 'GET', '/two')
    assert not ruleset.skip('a', 'z', 'GET', '/two')
    assert not ruleset.skip('z', 'b', 'GET', '/one')


@pytest.mark.parametrize('placeholder, good, bad', [
    ('{uuid}', [UUID, UUID.upper(), UUID.replace('-', ''),
                UUID.replace('-', '').upper()],
     [UUID[:-1], UUID + '0', UUID.replace('-', '', 1), 'x' * 36, '']),
    ('{version}', ['v2', 'v2.1', 'v3.14.1'], ['v', 'v.', '2', 'vx', 'v2.']),
    ('{name}', ['a', 'my image.qcow2', UUID], ['', 'a/b']),
    ('{id}', ['1', '42', '0123456789abcdef' * 2, UUID,
              UUID.replace('-', '')],
     ['default', 'abc', '', 'a/b', '0123456789abcde']),
    ('{request_id}', ['req-' + UUID], [UUID, 'req-' + UUID.upper()]),
])
def test_builtin_placeholders(placeholder, good, bad):
    """Built-in placeholders match one segment of their kind only."""
    ruleset = rules.load(rules_text({'urls': ['/x/%s/y' % placeholder]}))
    for value in good:
        assert ruleset.skip('a', 'b', 'GET', '/x/%s/y' % value), value
    for value in bad:
        assert not ruleset.skip('a', 'b', 'GET', '/x/%s/y' % value), value


@pytest.mark.parametrize('path', [
    '/v2/images/%s/file' % UUID,
    '/identity/v3/projects/0123456789abcdef0123456789abcdef',
    '/compute/v2.1/servers/42/action',
    '/v1/AUTH_x/c/o/req-%s' % UUID,
])
def test_route_template_from_a_trace_is_a_valid_url(path):
    """A route template shown in a trace matches the path it came from."""
    ruleset = rules.load(rules_text({'urls': [route.template(path)]}))
    assert ruleset.skip('a', 'b', 'GET', path)


def test_user_placeholders_add_and_override():
    """mappings add placeholders and override built-in ones."""
    ruleset = rules.load(rules_text(
        {'urls': ['/flavors/{flavor}', '/images/{uuid}']},
        mappings={'{flavor}': 'm1\\.[a-z]+', '{uuid}': 'img-[0-9]+'}))
    assert ruleset.skip('a', 'b', 'GET', '/flavors/m1.tiny')
    assert not ruleset.skip('a', 'b', 'GET', '/flavors/m1xtiny')
    assert ruleset.skip('a', 'b', 'GET', '/images/img-7')
    assert not ruleset.skip('a', 'b', 'GET', '/images/%s' % UUID)


def test_user_regex_groups_and_alternation_are_contained():
    """A user regex's groups and '|' do not leak into the template."""
    ruleset = rules.load(rules_text(
        {'urls': ['/a/{x}/b/{y}/c']},
        mappings={'{x}': '(one|two)', '{y}': 'three|(four)'}))
    assert ruleset.skip('a', 'b', 'GET', '/a/two/b/three/c')
    assert ruleset.skip('a', 'b', 'GET', '/a/one/b/four/c')
    assert not ruleset.skip('a', 'b', 'GET', '/a/one')
    assert not ruleset.skip('a', 'b', 'GET', 'three/c')
    assert not ruleset.skip('a', 'b', 'GET', '/a/one/b/five/c')


def test_empty_rules_record_everything(tmp_path):
    """No filters, an empty file or no file at all skip nothing."""
    empty = tmp_path / 'empty.yaml'
    empty.write_text('  \n', encoding='utf-8')
    for ruleset in (rules.load('{}'), rules.load('{"filters": []}'),
                    rules.load('filters: []', 'x.yaml'), rules.load(''),
                    rules.parse_file(str(empty)), rules.EMPTY,
                    rules.Rules(None).rules, rules.Rules('').rules):
        assert len(ruleset) == 0
        assert not ruleset.skip('a', 'b', 'GET', '/')


INVALID = [
    ('{"filter": []}', "top level: unknown key 'filter'"),
    ('[]', 'top level: must be a mapping, not list'),
    ('{"filters": {}}', 'filters: must be a list, not dict'),
    ('{"mappings": []}', 'mappings: must be a mapping, not list'),
    ('{"filters": ["GET"]}', 'filters[0]: must be a mapping, not str'),
    ('{"filters": [{"url": ["/"]}]}', "filters[0]: unknown key 'url'"),
    ('{"filters": [{}]}', 'filters[0]: an empty filter would skip every'),
    ('{"filters": [{"from": 3}]}', 'filters[0].from: must be a string or'),
    ('{"filters": [{"to": []}]}', 'filters[0].to: must be a string or'),
    ('{"filters": [{"to": ["a", ""]}]}', 'filters[0].to[1]: must be a non'),
    ('{"filters": [{"method": true}]}', 'filters[0].method: must be a'),
    ('{"filters": [{"method": "GET PUT"}]}',
     "filters[0].method: 'GET PUT' is not an HTTP method"),
    ('{"filters": [{"urls": "/x"}]}', 'filters[0].urls: must be a non-empty'),
    ('{"filters": [{"urls": []}]}', 'filters[0].urls: must be a non-empty'),
    ('{"filters": [{"urls": ["x"]}]}',
     "filters[0].urls[0]: must be a path starting with '/'"),
    ('{"filters": [{"urls": ["/x?a=1"]}]}',
     'filters[0].urls[0]: must not have a query string'),
    ('{"filters": [{"method": "GET"}, {"urls": ["/", "/a/{foo}"]}]}',
     'filters[1].urls[1]: unknown placeholder {foo}'),
    ('{"filters": [{"urls": ["/a/{uuid"]}]}',
     "filters[0].urls[0]: unbalanced '{' or '}'"),
    ('{"filters": [{"urls": ["/a/{}"]}]}',
     'filters[0].urls[0]: unknown placeholder {}'),
    ('{"mappings": {"x": "[0-9]+"}}',
     "mappings['x']: a placeholder looks like {name}"),
    ('{"mappings": {"{x}": 5}}', "mappings['{x}']: must be a non-empty"),
    ('{"mappings": {"{x}": "([0-9]+"}}', "mappings['{x}']: bad regex"),
    ('{"mappings": {"{x}": "a)|(b"}}', "mappings['{x}']: bad regex"),
    ('{"mappings": {"{x}": "(?P<n>a)"}}', "mappings['{x}']: named groups"),
    ('{"mappings": {"{x}": "(a)\\\\1"}}', "mappings['{x}']: named groups"),
    ('{"filters": [', 'invalid JSON: Expecting value'),
]


@pytest.mark.parametrize('text, problem', INVALID, ids=[p for _, p in INVALID])
def test_invalid_text_is_one_line_error_naming_the_problem(text, problem):
    """Every kind of invalid rules raises RulesError: 'source: problem'."""
    with pytest.raises(rules.RulesError) as info:
        rules.load(text, '/etc/x.json')
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith('/etc/x.json: ' + problem), message
    assert '\n' not in message
    assert info.value.source == '/etc/x.json'


def test_invalid_yaml_is_one_line_with_position():
    """A YAML syntax error is reported on one line with line and column."""
    with pytest.raises(rules.RulesError) as info:
        rules.load('filters:\n  - from: a\n   to: b\n', 'r.yaml')
    message = str(info.value)
    assert message.startswith('r.yaml: invalid YAML: line 3, column'), message
    assert '\n' not in message


def test_yaml_key_types_are_checked():
    """YAML's implicit types (on: true, numbers) are wrong types, not names."""
    with pytest.raises(rules.RulesError, match=r"filters\[0\]: unknown key"):
        rules.load('filters:\n  - on: GET\n', 'r.yaml')
    with pytest.raises(rules.RulesError, match=r'filters\[0\].to: must be'):
        rules.load('filters:\n  - to: 42\n', 'r.yaml')


def test_parse_file_errors_name_the_file(tmp_path):
    """parse_file reports a missing or non-UTF-8 file as RulesError."""
    missing = tmp_path / 'missing.json'
    with pytest.raises(rules.RulesError, match='missing.json: No such file'):
        rules.parse_file(str(missing))
    latin = tmp_path / 'latin.json'
    latin.write_bytes(b'{"filters": [{"from": "caf\xe9"}]}')
    with pytest.raises(rules.RulesError, match='latin.json: not UTF-8'):
        rules.parse_file(str(latin))


GOOD = rules_text({'method': 'HEAD'})


@pytest.mark.parametrize('text, problem', INVALID, ids=[p for _, p in INVALID])
def test_invalid_file_keeps_last_good_rules_and_logs_once(
        tmp_path, clock, log, text, problem):
    """An invalid version keeps the last good rules; one error, once."""
    path = tmp_path / 'rules.json'
    write(path, GOOD)
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    assert watched.skip('a', 'b', 'HEAD', '/')
    write(path, text)
    for _ in range(3):
        assert watched.skip('a', 'b', 'HEAD', '/')
        assert not watched.skip('a', 'b', 'GET', '/')
    errors = log(logging.ERROR)
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert message.startswith('global_reqid: filter rules %s: ' % path)
    assert problem in message
    assert message.endswith('; keeping the previous rules')
    assert watched.reads == 2


def test_fixed_file_is_loaded_and_logged_at_info(tmp_path, clock, log):
    """After an invalid version, the next good version is loaded."""
    path = tmp_path / 'rules.yaml'
    write(path, 'filters: [{method: HEAD}]\n')
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    write(path, 'filters: [{method: HEAD}\n')
    assert watched.skip('a', 'b', 'HEAD', '/')
    assert not watched.skip('a', 'b', 'GET', '/')
    write(path, 'filters: [{method: GET}]\n')
    assert watched.skip('a', 'b', 'GET', '/')
    assert not watched.skip('a', 'b', 'HEAD', '/')
    infos = [r.getMessage() for r in log(logging.INFO)]
    assert infos == ['global_reqid: filter rules %s: loaded 1 filters'
                     % path] * 2
    assert len(log(logging.ERROR)) == 1
    write(path, 'filters: [{method: HEAD}\n')
    watched.check()
    assert len(log(logging.ERROR)) == 2


def test_invalid_file_at_start_records_everything(tmp_path, clock, log):
    """With no good version yet, an invalid file records every request."""
    path = tmp_path / 'rules.json'
    write(path, '{"filters": [{"urls": ["/{nope}"]}]}')
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    assert not watched.skip('a', 'b', 'GET', '/')
    watched.check()
    [error] = log(logging.ERROR)
    assert error.getMessage() == (
        'global_reqid: filter rules %s: filters[0].urls[0]: unknown '
        'placeholder {nope}; recording every request until it is fixed'
        % path)


def test_unchanged_mtime_and_size_is_not_reread(tmp_path, clock):
    """A file whose mtime and size did not change is not read again."""
    path = tmp_path / 'rules.json'
    write(path, rules_text({'method': 'HEAD'}))
    before = os.stat(path)
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    assert watched.reads == 1
    path.write_text(rules_text({'method': 'POST'}), encoding='utf-8')
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    for _ in range(5):
        assert watched.skip('a', 'b', 'HEAD', '/')
        assert not watched.skip('a', 'b', 'POST', '/')
    assert watched.checks == 11
    assert watched.reads == 1
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    assert watched.skip('a', 'b', 'POST', '/')
    assert watched.reads == 2


def test_size_change_alone_is_seen(tmp_path, clock):
    """A change of size with the same mtime is reloaded."""
    path = tmp_path / 'rules.json'
    write(path, rules_text({'method': 'HEAD'}))
    before = os.stat(path)
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    path.write_text(rules_text({'method': 'DELETE'}), encoding='utf-8')
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert watched.skip('a', 'b', 'DELETE', '/')
    assert watched.reads == 2


def test_check_interval_is_respected(tmp_path, clock):
    """The file is stat'ed at most once per check_interval of the clock."""
    path = tmp_path / 'rules.json'
    write(path, rules_text({'method': 'HEAD'}))
    watched = rules.Rules(str(path), check_interval=5.0, clock=clock)
    assert watched.checks == 1
    write(path, rules_text({'method': 'POST'}))
    for step in range(10):
        clock.now = 100.0 + step * 0.49
        assert watched.skip('a', 'b', 'HEAD', '/')
    assert watched.checks == 1
    clock.now = 105.0
    assert watched.skip('a', 'b', 'POST', '/')
    assert not watched.skip('a', 'b', 'HEAD', '/')
    assert watched.checks == 2
    assert watched.reads == 2
    clock.now = 109.9
    watched.skip('a', 'b', 'GET', '/')
    assert watched.checks == 2
    clock.now = 110.0
    watched.skip('a', 'b', 'GET', '/')
    assert watched.checks == 3
    assert watched.reads == 2


def test_missing_file_records_everything_until_it_appears(
        tmp_path, clock, log):
    """A missing file: one warning, everything recorded, then picked up."""
    path = tmp_path / 'rules.yaml'
    watched = rules.Rules(str(path), check_interval=1, clock=clock)
    for _ in range(5):
        clock.now += 1
        assert not watched.skip('a', 'b', 'HEAD', '/')
    [warning] = log(logging.WARNING)
    assert warning.getMessage() == (
        'global_reqid: filter rules %s: file not found; recording every '
        'request until it appears' % path)
    assert watched.reads == 0
    write(path, 'filters:\n  - method: head\n')
    assert not watched.skip('a', 'b', 'HEAD', '/')  # within the interval
    clock.now += 1
    assert watched.skip('a', 'b', 'HEAD', '/')
    assert len(log(logging.INFO)) == 1
    assert not log(logging.ERROR)


def test_deleted_file_records_everything(tmp_path, clock, log):
    """Removing the rules file removes its filters, with one warning."""
    path = tmp_path / 'rules.json'
    write(path, GOOD)
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    path.unlink()
    assert not watched.skip('a', 'b', 'HEAD', '/')
    assert not watched.skip('a', 'b', 'HEAD', '/')
    assert len(log(logging.WARNING)) == 1
    write(path, GOOD)
    assert watched.skip('a', 'b', 'HEAD', '/')


def test_replaced_file_with_same_mtime_and_size_is_seen(tmp_path, clock):
    """A file renamed into place is seen even with the old mtime and size."""
    path = tmp_path / 'rules.json'
    write(path, rules_text({'method': 'HEAD'}))
    before = os.stat(path)
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    new = tmp_path / 'rules.json.new'
    new.write_text(rules_text({'method': 'POST'}), encoding='utf-8')
    os.utime(new, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(new, path)
    assert watched.skip('a', 'b', 'POST', '/')


def test_skip_never_raises(tmp_path, clock, log):
    """skip() records (returns False) rather than raise, and logs once."""
    path = tmp_path / 'rules.json'
    write(path, GOOD)
    watched = rules.Rules(str(path), check_interval=0, clock=clock)
    assert watched.skip('a', 'b', None, '/') is False
    assert watched.skip(['unhashable'], 'b', 'HEAD', '/') is False
    assert len(log(logging.ERROR)) == 1
    assert watched.skip('a', 'b', 'HEAD', '/') is True


def test_negative_check_interval_is_refused():
    """check_interval must not be negative."""
    with pytest.raises(ValueError, match='check_interval'):
        rules.Rules(None, check_interval=-1)


def test_concurrent_skip_during_reloads(tmp_path, log):
    """skip() from many threads while the file changes never fails."""
    path = tmp_path / 'rules.json'
    versions = [
        rules_text({'method': 'HEAD'}),
        rules_text({'method': 'HEAD', 'urls': ['/{nope}']}),
        rules_text({'method': ['HEAD', 'GET'], 'urls': ['/', '/{uuid}']}),
        '{"filters": [',
    ]
    write(path, versions[0])
    watched = rules.Rules(str(path), check_interval=0)
    stop = threading.Event()
    failures = []
    seen = set()

    def worker():
        while not stop.is_set():
            try:
                result = watched.skip('a', 'b', 'HEAD', '/%s' % UUID)
                seen.add(result)
                if result is not True:
                    failures.append(result)
            except Exception as exc:  # noqa: BLE001 - the rule under test
                failures.append(exc)
            time.sleep(0)  # let the writer in

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(100):
            replace(path, versions[i % len(versions)])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert seen == {True}
    assert watched.reads > 10  # the threads did see reloads
    assert not [r for r in log(logging.ERROR) if r.exc_info]
