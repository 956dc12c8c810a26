"""The text renderer draws a safe, numbered timeline tree of the hops."""

import re

from global_reqid.events import redact
from global_reqid.tests.unit import trace_fixtures
from global_reqid.tests.unit import trace_fixtures_render
from global_reqid.trace import model
from global_reqid.trace.render import text

ANSI = re.compile(r'\x1b\[[0-9;]*m')
CONTROL = re.compile('[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]')


def _hop_lines(output):
    """The output's hop lines: they start with a hop number."""
    return [line for line in output.splitlines()
            if re.match(r'\s*\d+\s+(?:[+-]\d|\?)', line)]


def test_header_names_the_action_mode_participants_span_and_hops():
    """The header names id, mode, participants, span, hops; queried id."""
    trace = trace_fixtures.image_create()
    header = text.render(trace).splitlines()[0]
    assert trace.global_request_id in header
    assert 'queried' not in header
    assert 'from events and logs' in header
    assert 'client, keystone, glance-api, object-store' in header
    # discovery starts at T0, the last hop ends at T0 + 2.0 s + 7 ms
    assert 'span 2.007 s' in header
    hops = sum(1 for _ in trace.hops())
    assert header.endswith('%d hops' % hops)
    trace.queried_id = trace.roots[2].request_id
    header = text.render(trace).splitlines()[0]
    assert '(queried %s)' % trace.roots[2].request_id in header


def test_modes_read_as_words():
    """Each trace mode reads as how the trace was found."""
    trace = trace_fixtures.empty()
    for mode, words in (('events', 'from events'),
                        ('logs', 'from logs (retroactive)'),
                        ('mixed', 'from events and logs')):
        trace.mode = mode
        assert ' · %s · ' % words in text.render(trace).splitlines()[0]


def test_one_line_per_hop_depth_first_with_tree_glyphs():
    """One numbered line per hop, depth first, nested with tree glyphs."""
    trace = trace_fixtures.image_create()
    lines = _hop_lines(text.render(trace))
    hops = list(trace.hops())
    assert len(lines) == len(hops)
    for number, (line, hop) in enumerate(zip(lines, hops, strict=True), 1):
        assert line.split()[0] == str(number)
        assert '%s → %s' % (hop.caller, hop.callee) in line
    create, validation = lines[2], lines[3]
    assert '├─ client → glance-api  POST /v2/images  201  84.2 ms' in create
    assert '│  └─ glance-api → keystone  GET /v3/auth/tokens' in validation
    assert '└─ client → glance-api  GET /v2/images/' in lines[-1]
    assert all('├─' in line for line in lines[:-1] if line is not validation)


def test_offsets_are_from_the_trace_start_and_ids_are_whole():
    """Hops show their offset from the trace start and their full id."""
    trace = trace_fixtures.image_create()
    lines = _hop_lines(text.render(trace))
    for line, hop in zip(lines, trace.hops(), strict=True):
        assert '%+.3fs' % (hop.start - trace_fixtures.T0) in line
        assert line.endswith(hop.request_id or '-')


def test_failed_hops_are_marked_and_no_answer_is_said():
    """Failed hops are marked; a missing status reads 'no answer (Err)'."""
    trace = trace_fixtures.image_create()
    lines = _hop_lines(text.render(trace))
    for line, hop in zip(lines, trace.hops(), strict=True):
        assert (text.FAILED_MARK in line) == hop.failed
    assert 'no answer (ConnectTimeout)  1.000 s' in lines[5]
    assert '500 OSError  55.3 ms' in lines[4]


def test_no_ansi_codes_without_color():
    """Without color=True the output holds no escape sequence at all."""
    output = text.render(trace_fixtures.image_create(), lines=True)
    assert '\x1b' not in output


def test_colors_red_for_errors_yellow_for_4xx_dim_ids():
    """color=True: errors red, 4xx yellow, ids dim, nothing else changed."""
    trace = trace_fixtures.image_create()
    trace.roots[0].status = 404
    plain = text.render(trace, lines=True)
    coloured = text.render(trace, lines=True, color=True)
    assert ANSI.sub('', coloured) == plain
    lines = _hop_lines(coloured)
    assert '\x1b[33m404\x1b[0m' in lines[0]
    assert '\x1b[31m500 OSError\x1b[0m' in lines[4]
    assert '\x1b[31mno answer (ConnectTimeout)\x1b[0m' in lines[5]
    assert '\x1b[2m%s\x1b[0m' % trace.roots[1].request_id in lines[1]


def test_lines_show_log_lines_under_their_hop_and_orphans_at_the_end():
    """lines=True puts log lines under their hop, orphans at the end."""
    trace = trace_fixtures.image_create()
    output = text.render(trace, lines=True).splitlines()
    upload = next(i for i, line in enumerate(output) if 'PUT /v2' in line)
    assert output[upload + 1].endswith(
        '✗ ERROR   glance-api.api: Failed to upload image data')
    assert '+0.950s' in output[upload + 1]
    create = next(i for i, line in enumerate(output)
                  if 'POST /v2/images' in line)
    assert output[create + 1].endswith(
        '  DEBUG   glance-api.api: Creating image <b>&')
    assert text.FAILED_MARK not in output[create + 1]
    orphans = output.index('lines outside any hop (1):')
    assert 'Determining version of request: POST /v2' in output[orphans + 1]
    assert orphans > max(i for i, line in enumerate(output)
                         if re.match(r'7 +\+', line))


def test_without_lines_no_log_line_is_shown():
    """Without lines=True no log message appears."""
    output = text.render(trace_fixtures.image_create())
    assert 'Failed to upload' not in output
    assert 'Determining version' not in output


def test_summary_counts_hops_failures_error_lines_and_scan():
    """The summary counts hops, failures, error lines and the scan."""
    trace = trace_fixtures.image_create()
    hops = list(trace.hops())
    errors = sum(line.error for hop in hops for line in hop.lines)
    summary = text.render(trace).splitlines()[-1]
    assert summary.startswith('%d hops · %d failed · %d error lines' % (
        len(hops), sum(hop.failed for hop in hops), errors))
    assert 'scanned %d files, %s lines, %d events' % (
        trace.stats.files, format(trace.stats.lines, ','),
        trace.stats.events) in summary


def test_control_and_bidi_characters_never_reach_the_output():
    """Control and bidi characters are shown as escapes, never written."""
    output = text.render(trace_fixtures_render.hostile(), lines=True,
                         color=False)
    assert not CONTROL.search(output.replace('\n', ''))
    assert '\\x1b[2J' in output
    assert '\\x1b]0;title\\x07' in output
    assert 'Trojan\\u202eSource' in output
    coloured = text.render(trace_fixtures_render.hostile(), lines=True,
                           color=True)
    assert not CONTROL.search(ANSI.sub('', coloured).replace('\n', ''))


def test_secrets_in_log_lines_are_masked():
    """A raw password or token in a log line is masked on output."""
    trace = trace_fixtures_render.raw_secrets()
    output = text.render(trace, lines=True)
    assert trace_fixtures_render.RAW_PASSWORD not in output
    assert trace_fixtures_render.RAW_TOKEN not in output
    assert 'Authenticating password=***' in output


def test_secret_in_a_path_is_masked():
    """A token in a path (/v2.0/tokens/<token>) is hashed on output."""
    trace = trace_fixtures.empty()
    trace.roots[0].path = '/v2.0/tokens/' + trace_fixtures_render.RAW_TOKEN
    output = text.render(trace)
    assert trace_fixtures_render.RAW_TOKEN not in output
    assert redact.hash_value(trace_fixtures_render.RAW_TOKEN) in output


def test_now_says_how_long_ago_the_action_started():
    """now= says how long ago the action started; nothing reads a clock."""
    trace = trace_fixtures.image_create()
    header = text.render(trace, now=trace_fixtures.T0 + 3725).splitlines()[0]
    assert '(1 h ago)' in header
    assert 'ago' not in text.render(trace).splitlines()[0]


def test_deterministic():
    """The same trace gives the same text every time."""
    first = text.render(trace_fixtures.image_create(), lines=True)
    assert first == text.render(trace_fixtures.image_create(), lines=True)


def test_zero_hops_none_fields_and_unicode_render():
    """Zero hops, None fields and unicode names render."""
    for trace in (trace_fixtures_render.nothing(),
                  trace_fixtures_render.no_hops(),
                  trace_fixtures_render.bare(),
                  trace_fixtures_render.hostile()):
        output = text.render(trace, lines=True, color=True,
                             now=trace_fixtures.T0)
        assert output.endswith('\n')
    output = text.render(trace_fixtures_render.nothing())
    assert output.splitlines()[-1].startswith('0 hops · 0 failed')
    output = text.render(trace_fixtures_render.hostile())
    assert 'ünï 漢字 🚀' in output


def test_a_chain_deeper_than_the_recursion_limit_renders():
    """Hops are walked without recursion: a very deep chain renders."""
    trace = trace_fixtures_render.chain(1200)
    lines = _hop_lines(text.render(trace))
    assert len(lines) == 1200
    assert lines[-1].split()[0] == '1200'


def test_walk_numbers_depth_first_and_names_parents():
    """walk() numbers hops depth first and gives each its caller hop."""
    trace = trace_fixtures.image_create()
    steps = list(text.walk(trace.roots))
    assert [step.hop for step in steps] == list(trace.hops())
    assert [step.number for step in steps] == list(range(1, 8))
    assert steps[3].parent == 3 and steps[3].lasts == (False, True)
    assert [step.parent for step in steps if step.number != 4] == [None] * 6
    assert steps[-1].lasts == (True,)


def test_durations_and_answers_read_the_same_everywhere():
    """duration() and answer() format times, unknowns and no answer."""
    assert text.duration(84.24) == '84.2 ms'
    assert text.duration(1000.0) == '1.000 s'
    assert text.duration(None) == '?'
    hop = model.Hop(caller='a', callee='b')
    # Only log lines, none with the answer: not lost, just not logged.
    assert text.answer(hop) == 'answer not logged' == text.UNLOGGED
    assert not hop.lost and not hop.failed
    hop.evidence = ('client',)
    assert text.answer(hop) == 'no answer' and hop.lost
    hop.status, hop.error = 503, 'HTTPError'
    assert text.answer(hop) == '503 HTTPError'
