"""The one serializer: time format, route, and redaction of every field."""

import datetime
import json

import pytest

from global_reqid.events import schema

FERNET = ('gAAAAABpM3J0b2tlbi1mZXJuZXQtdmFsdWUtZm9yLXRlc3RzLW9ubHktMTIzNDU2Nzg5'
          'MGFiY2RlZg')


@pytest.mark.parametrize('epoch', [0.0, 1.9999999, 1795456247.224941,
                                   1795456247.9999996, 1795456248.000001])
def test_format_time_matches_datetime(epoch):
    """start is UTC ISO 8601 with microseconds, rounded like datetime."""
    expected = datetime.datetime.fromtimestamp(
        round(epoch, 6), datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%S.%fZ')
    assert schema.format_time(epoch) == expected


def test_to_json_is_one_line_with_route_and_formatted_start():
    """One JSON line; route derived from the path; start formatted."""
    line = schema.to_json({'v': 1, 'kind': 'server', 'start': 0.5,
                           'path': '/v2/images/070833a5-4f01-4ae7-9892-'
                                   '73e6556940ea', 'query': None})
    assert '\n' not in line
    event = json.loads(line)
    assert event['route'] == '/v2/images/{uuid}'
    assert event['start'] == '1970-01-01T00:00:00.500000Z'


def test_token_in_path_is_masked_in_path_and_route():
    """A token in a path (keystone v2 tokens) reaches no field in clear."""
    line = schema.to_json({'v': 1, 'path': '/v2.0/tokens/' + FERNET,
                           'query': 'belongsTo=abc'})
    assert FERNET not in line and FERNET[:16] not in line
    event = json.loads(line)
    assert event['path'].startswith('/v2.0/tokens/')
    assert event['route'].startswith('/v2.0/tokens/')


def test_secret_store_bodies_are_omitted():
    """Barbican payloads are secrets without a field name: never written."""
    payload = b'my-plain-text-secret-payload'
    line = schema.to_json({
        'v': 1, 'path': '/v1/secrets/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'
                        '/payload',
        'body': {'request': (payload, 'text/plain', 4096),
                 'response': (b'', None, 4096)}})
    assert b'plain-text-secret' not in line.encode()
    assert json.loads(line)['body']['request'] == {'omitted': 'secret store'}


def test_event_is_not_mutated():
    """Serializing leaves the caller's event as it was."""
    event = {'v': 1, 'start': 1.25, 'path': '/v2.0/tokens/' + FERNET,
             'query': 'token=' + FERNET}
    before = dict(event)
    schema.to_json(event)
    assert event == before


@pytest.mark.parametrize('value', [
    'plain', 'quote " back \\ nl \n tab \t', 'é ü 漢字 \u2028', '\x00\x1f',
    0, -1, 2 ** 70, 1.5, 1e-7, 123456.789, True, False, None,
    [1, 'a', None], {'k': [1, {'x': 'y'}]},
])
def test_fast_values_encode_like_json(value):
    """Every value is encoded exactly as the json module encodes it."""
    line = schema.to_json({'x': value})
    assert line == json.dumps({'x': value}, separators=(',', ':'),
                              ensure_ascii=False)
    assert json.loads(line) == {'x': value}
