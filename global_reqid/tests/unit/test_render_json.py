"""The JSON renderer writes the versioned trace tree, stable and valid."""

import json
import subprocess
import sys

from global_reqid.tests.unit import trace_fixtures
from global_reqid.tests.unit import trace_fixtures_render
from global_reqid.trace import model
from global_reqid.trace.render import json as render_json


def test_round_trips_to_the_model_dict_with_a_version_first():
    """Output loads back as to_dict(trace) with "version": 1 first."""
    trace = trace_fixtures.image_create()
    document = json.loads(render_json.render(trace))
    assert list(document)[0] == 'version'
    assert document.pop('version') == 1
    assert document == json.loads(json.dumps(model.to_dict(trace)))


def test_key_order_follows_the_model_and_output_is_stable():
    """Keys follow the model's order; the same trace gives the same bytes."""
    trace = trace_fixtures.image_create()
    output = render_json.render(trace)
    assert output == render_json.render(trace_fixtures.image_create())
    document = json.loads(output)
    assert list(document) == ['version'] + list(model.to_dict(trace))
    hop = document['hops'][2]
    assert list(hop)[:3] == ['caller', 'callee', 'method']
    assert hop['children'][0]['parent_request_id'] == hop['request_id']


def test_indent_controls_the_layout():
    """indent=None writes one line, the default indents by two."""
    trace = trace_fixtures.empty()
    assert render_json.render(trace, indent=None).count('\n') == 1
    assert '\n  "version": 1,\n' in render_json.render(trace)


def test_unicode_is_written_as_it_is_and_control_characters_escaped():
    """Unicode stays readable; control characters are JSON escapes."""
    output = render_json.render(trace_fixtures_render.hostile())
    assert 'ünï 漢字 🚀' in output
    assert '\x1b' not in output and '\\u001b' in output
    assert json.loads(output)['participants'] == \
        trace_fixtures_render.HOSTILE_NAMES


def test_values_json_cannot_hold_are_made_plain():
    """NaN, bytes, odd keys and lone surrogates still give valid JSON."""
    trace = trace_fixtures.empty()
    hop = trace.roots[0]
    hop.duration_ms = float('nan')
    hop.start = float('inf')
    hop.body = {'request': b'\xff\x00raw', 'response': {1: 'one'}}
    hop.headers = {'request': {'X-Odd': 'bad \udcff byte'}}
    output = render_json.render(trace)
    document = json.loads(output)
    assert 'NaN' not in output and 'Infinity' not in output
    out_hop = document['hops'][0]
    assert out_hop['duration_ms'] is None and out_hop['start'] is None
    assert out_hop['body'] == {'request': '\\xff\x00raw',
                               'response': {'1': 'one'}}
    assert out_hop['headers']['request']['X-Odd'] == 'bad \udcff byte'
    output.encode('utf-8')  # no lone surrogate left to break a write


def test_zero_hops_and_missing_stats():
    """A trace without hops, or without stats, renders."""
    document = json.loads(render_json.render(trace_fixtures_render.nothing()))
    assert document['hops'] == [] and document['participants'] == []
    trace = trace_fixtures_render.bare()
    trace.stats = None
    document = json.loads(render_json.render(trace))
    assert document['stats'] is None
    assert document['hops'][0]['caller'] is None


def test_the_module_name_does_not_hide_the_standard_json():
    """render/json.py imports the standard library's json module."""
    assert render_json.json is json
    code = ('from global_reqid.trace.render import json as j; '
            'import json; print(j.json is json, json.__name__)')
    result = subprocess.run([sys.executable, '-c', code], check=True,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ['True', 'json']


def test_a_big_trace_renders():
    """200 hops render and load back whole."""
    document = json.loads(render_json.render(trace_fixtures_render.many()))

    def count(hops):
        return sum(1 + count(hop['children']) for hop in hops)
    assert count(document['hops']) == 200
