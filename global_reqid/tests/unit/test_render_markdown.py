"""The Markdown renderer dumps every hop's request and response, safely."""

import json
import re

import pytest

from global_reqid.events import redact
from global_reqid.tests.unit import trace_fixtures
from global_reqid.tests.unit import trace_fixtures_render
from global_reqid.trace.render import markdown
from global_reqid.trace.render import mermaid
from global_reqid.trace.render import text

markdown_it = pytest.importorskip(
    'markdown_it', reason='markdown-it-py (a CommonMark parser) is needed '
    'to read the output back')

COLUMNS = ['#', 'Within', 'Caller', 'Callee', 'Method', 'Path', 'Status',
           'Duration', 'Arrows']


def _parse(output):
    return markdown_it.MarkdownIt('commonmark').enable('table').parse(output)


def _plain(token):
    """The text a reader sees in an inline token (escapes undone)."""
    return ''.join(child.content for child in token.children or ()
                   if child.type in ('text', 'code_inline'))


def _table(tokens):
    """The first table's rows, as lists of cell tokens."""
    rows, row, inside = [], None, False
    for token in tokens:
        if token.type == 'table_open':
            inside = True
        elif token.type == 'table_close':
            return rows
        elif inside and token.type == 'tr_open':
            row = []
        elif inside and token.type == 'tr_close':
            rows.append(row)
        elif inside and token.type == 'inline':
            row.append(token)
    return rows


def _headings(tokens, level):
    return [tokens[index + 1] for index, token in enumerate(tokens)
            if token.type == 'heading_open' and token.tag == 'h%d' % level]


def _fences(tokens):
    return [token for token in tokens if token.type == 'fence']


def test_title_and_summary_name_the_action():
    """The dump opens with the global id, mode, participants and counts."""
    trace = trace_fixtures.image_create()
    output = markdown.render(trace)
    lines = output.splitlines()
    assert lines[0] == '# Trace ' + trace.global_request_id
    assert '- **Found:** from events and logs' in lines
    assert ('- **Participants:** client, keystone, glance\\-api, '
            'object\\-store' not in lines)
    assert '- **Participants:** client, keystone, glance-api, object-store' \
        in lines
    assert '- **Started:** 2026-11-23 17:18:54.000Z, span 2.007 s' in lines
    assert ('- **Hops:** 7, 2 failed; 2 error lines; 1 log line outside '
            'any hop') in lines
    assert '- **Queried id:**' not in output


def test_summary_table_has_one_row_per_hop_numbered_like_text():
    """One table row per hop, numbered as text numbers it, with arrows."""
    trace = trace_fixtures.image_create()
    rows = _table(_parse(markdown.render(trace)))
    assert [_plain(cell) for cell in rows[0]] == COLUMNS
    steps = list(text.walk(trace.roots))
    numbers = mermaid.arrows(steps)
    assert len(rows) == 1 + len(steps)
    timeline = [line.split()[0] for line in text.render(trace).splitlines()
                if re.match(r'\d+ +\+', line)]
    for row, step, number in zip(rows[1:], steps, timeline, strict=True):
        cells = [_plain(cell) for cell in row]
        assert cells[0] == number == str(step.number)
        assert cells[1] == ('' if step.parent is None else str(step.parent))
        assert cells[2:5] == [step.hop.caller, step.hop.callee,
                              step.hop.method]
        assert cells[8] == '%d, %d' % numbers[step.number]
    assert [_plain(cell) for cell in rows[4]][5:8] == [
        '/v3/auth/tokens', '200', '35.5 ms']
    assert [_plain(cell) for cell in rows[6]][6] == \
        '✗ no answer (ConnectTimeout)'


def test_one_section_per_hop_with_request_and_response():
    """Each hop has a '### N. caller → callee: METHOD path' section."""
    trace = trace_fixtures.image_create()
    tokens = _parse(markdown.render(trace))
    headings = [_plain(token) for token in _headings(tokens, 3)]
    assert headings == ['%d. %s → %s: %s' % (
        step.number, step.hop.caller, step.hop.callee,
        text.request(step.hop)) for step in text.walk(trace.roots)]
    assert [_plain(token) for token in _headings(tokens, 4)] == [
        'Request', 'Response'] * 7


def test_headers_and_bodies_are_shown_masked_and_pretty():
    """Headers are tables, JSON bodies pretty, binary bodies a summary."""
    trace = trace_fixtures.image_create()
    output = markdown.render(trace)
    tokens = _parse(output)
    bodies = [token for token in _fences(tokens) if token.info == 'json']
    assert len(bodies) == 1
    assert json.loads(bodies[0].content) == json.loads(
        trace.roots[2].body['request'])
    assert bodies[0].content.startswith('{\n  "name": "testimg"')
    assert ('*Binary body, not shown: 745 bytes, '
            'application/octet-stream.*') in output
    assert '| `Location` | `/v2/images/0708` |' in output


def test_secrets_are_masked_again():
    """Raw secrets are masked again; an already hashed value is kept."""
    trace = trace_fixtures_render.raw_secrets()
    output = markdown.render(trace)
    assert trace_fixtures_render.RAW_TOKEN not in output
    assert trace_fixtures_render.RAW_PASSWORD not in output
    hashed = redact.hash_value(trace_fixtures_render.RAW_TOKEN)
    assert '| `X-Auth-Token` | `%s` |' % hashed in output
    assert '| `X-Subject-Token` | `%s` |' % hashed in output
    assert 'http://admin:***@127.0.0.1:5000' in output


def test_fences_outlast_backticks_in_content():
    """Fences and code spans are longer than any backtick run inside."""
    trace = trace_fixtures_render.raw_secrets()
    tokens = _parse(markdown.render(trace))
    texts = [token.content for token in _fences(tokens)
             if token.info == 'text']
    assert any('and ```fenced``` text' in content for content in texts)
    assert markdown.code('a`b') == '``a`b``'
    assert markdown.code('`x`') == '`` `x` ``'


def test_log_lines_are_in_a_collapsed_details_block():
    """A hop's log lines are in a collapsed <details> block."""
    trace = trace_fixtures.image_create()
    output = markdown.render(trace)
    assert output.count('<details>') == output.count('</details>') == 6
    upload = output.index('### 5.')
    block = output[upload:output.index('### 6.')]
    assert '<summary>Log lines (2, 2 errors)</summary>' in block
    assert ('2026-11-23 17:18:54.950Z ✗ ERROR glance-api.api: Failed to '
            'upload image data') in block
    tail = output[output.index('## Log lines outside any hop'):]
    assert 'Determining version of request: POST /v2' in tail
    tokens = _parse(output)
    html = [line for token in tokens if token.type == 'html_block'
            for line in token.content.splitlines()]
    assert set(html) == {'<details>', '<summary>Log lines (1)</summary>',
                         '<summary>Log lines (2, 2 errors)</summary>',
                         '<summary>Lines (1)</summary>', '</details>'}


def test_hostile_names_cannot_inject_markdown_or_html():
    """Hostile names come out as text: no markup, HTML or extra cell."""
    trace = trace_fixtures_render.hostile()
    tokens = _parse(markdown.render(trace))
    rows = _table(tokens)
    assert all(len(row) == len(COLUMNS) for row in rows)
    steps = list(text.walk(trace.roots))
    for row, step in zip(rows[1:], steps, strict=True):
        cells = [_plain(cell) for cell in row]
        assert cells[2:4] == [text.clean(step.hop.caller),
                              text.clean(step.hop.callee)]
        assert cells[5] == text.request(step.hop).partition(' ')[2]
    headings = _headings(tokens, 3)
    inline = [child.type for token in headings + [
        cell for row in rows for cell in row] for child in token.children]
    assert not {'em_open', 'strong_open', 'link_open', 'html_inline',
                'image'} & set(inline)
    assert len(headings) == len(steps)
    headings = [_plain(token) for token in headings]
    assert headings[0] == '1. nova;api → glance#api:9292: ' + \
        text.request(steps[0].hop)
    assert not [token for token in tokens if token.type == 'html_block'
                and 'script' in token.content]


def test_control_characters_never_reach_the_output():
    """Control and bidi characters are escaped in text and code blocks."""
    output = markdown.render(trace_fixtures_render.hostile())
    assert not re.search('[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]',
                         output)
    assert '\\x1b[2J' in output


def test_empty_bare_and_big_traces_render_deterministically():
    """Zero hops, None fields and 200 hops render, the same bytes twice."""
    for factory in (trace_fixtures_render.nothing,
                    trace_fixtures_render.no_hops,
                    trace_fixtures_render.bare, trace_fixtures_render.many,
                    trace_fixtures.empty):
        output = markdown.render(factory())
        assert output.endswith('\n')
        assert output == markdown.render(factory())
    assert '*No hops.*' in markdown.render(trace_fixtures_render.nothing())
    rows = _table(_parse(markdown.render(trace_fixtures_render.many())))
    assert len(rows) == 201
