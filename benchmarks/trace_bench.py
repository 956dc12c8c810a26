"""The whole ``global-reqid-trace`` against ``grep -F`` for one id.

On a generated oslo.log corpus (``trace_corpus.py``: six service files,
1 GiB by default, one action spread over all of them) with a warm page
cache, one run alternates ``LC_ALL=C grep -F ID -r DIR`` and ``global-
reqid-trace ID --logs DIR --format text`` (both writing to a pipe this
script drains: GNU grep stops at the first match when its output is
/dev/null), ``--runs`` times each, over the corpus and over one half its
size. It prints the median wall times, the ratio trace/grep (target <=
1.0: finding, parsing, correlating and rendering one action costs no
more than finding its lines) and the trace's peak memory at both sizes
(target: it does not grow with the corpus). Before timing, it checks
that grep finds every line the generator wrote for the action and that
the trace names every service of the action: a benchmark of a broken run
is worthless. ``--phases`` also times each step of the trace
(interpreter start, imports, scan, parse, correlate, render) in fresh
interpreters: where the time goes.

Exit status: 0 whatever the figures, 1 if a command failed or a check
did not hold (the error on stderr), 2 for bad usage.

Run: ``python benchmarks/trace_bench.py [--corpus DIR] [--size 1G]
[--runs 5] [--json] [--phases]`` with the package installed; see
benchmarks/README.md.
"""

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import trace_corpus

#: The whole trace may take at most this many times grep's wall time.
TARGET = 1.0
SUBJECTS = ('grep', 'trace')
PROG = 'global-reqid-trace'
#: How often the memory run samples /proc (seconds).
SAMPLE_EVERY = 0.02


#: What one command cost: wall and CPU seconds (its workers' included),
#: peak RSS, exit status, error output.
Run = collections.namedtuple('Run',
                             'wall cpu max_rss_kb status stderr out_bytes')


def grep_argv(request_id, corpus):
    return ['grep', '-F', '-r', '--', request_id, corpus]


def trace_argv(request_id, corpus, fmt='text'):
    """The console script beside this interpreter, else ``-m``."""
    script = os.path.join(os.path.dirname(sys.executable), PROG)
    if os.access(script, os.X_OK):
        head = [script]
    else:
        head = [sys.executable, '-m', 'global_reqid.cmd.trace']
    return head + [request_id, '--logs', corpus, '--format', fmt]


def environment():
    """C locale for grep; no event directory, so the trace reads logs."""
    env = dict(os.environ, LC_ALL='C')
    env.pop('GLOBAL_REQID_EVENTS', None)
    return env


def run(argv, env):
    """Run ``argv`` once; wall time around it, rusage from ``wait4``.

    Output goes to a pipe read to its end: GNU grep treats /dev/null as
    ``-q`` and stops at the first match, which would time a different
    job. ``ru_maxrss`` of ``wait4`` is the peak of the child and of the
    processes it waited for (workers), not their sum.
    """
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        # NOTE: fixed argv, no shell: the id is checked by the generator.
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE,  # noqa: S603
                                stderr=errors, env=env)
        out = 0
        while True:
            chunk = proc.stdout.read1(1 << 16)
            if not chunk:
                break
            out += len(chunk)
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        text = errors.read().decode('utf-8', 'replace')
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
               proc.returncode, text, out)


def _tree(pid):
    """``pid`` and its descendants, as far as /proc tells."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            with open('/proc/%d/task/%d/children' % (current, current)) as f:
                todo.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return pids


def _rss(pid):
    """(anonymous, file-backed) resident kB of one process, or zeros."""
    anon = files = 0
    try:
        with open('/proc/%d/status' % pid) as stream:
            for row in stream:
                if row.startswith('RssAnon:'):
                    anon = int(row.split()[1])
                elif row.startswith(('RssFile:', 'RssShmem:')):
                    files += int(row.split()[1])
    except (OSError, ValueError):
        pass
    return anon, files


def sample_memory(argv, env):
    """Peak (private, file-backed) resident kB of a run's process tree.

    Sampled from /proc every ``SAMPLE_EVERY`` s (workers summed), in a
    run of its own: polling costs CPU the timed runs must not pay. File
    pages a reader maps are counted apart: they are the page cache, not
    memory the trace holds.
    """
    # NOTE: fixed argv, no shell.
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,  # noqa: S603
                            stderr=subprocess.DEVNULL, env=env)
    peak_anon = peak_files = 0
    while True:
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        anon = files = 0
        for member in _tree(proc.pid):
            a, f = _rss(member)
            anon += a
            files += f
        peak_anon = max(peak_anon, anon)
        peak_files = max(peak_files, files)
        time.sleep(SAMPLE_EVERY)
    return peak_anon, peak_files


def load_note():
    """The load average against the CPUs: a busy machine inflates wall
    times (CPU times much less)."""
    one, five, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    note = 'load average %.1f (5 min %.1f) on %d CPUs' % (one, five, cpus)
    if five > 0.5 * cpus:
        note += ': BUSY, wall times are inflated, compare CPU times'
    return note


def available_memory():
    """MemAvailable from /proc/meminfo in bytes (what ``free`` shows)."""
    with open('/proc/meminfo') as stream:
        for row in stream:
            if row.startswith('MemAvailable:'):
                return int(row.split()[1]) * 1024
    return 0


def compile_package():
    """Write the package's bytecode, as pip does on a real install.

    Under ``PYTHONDONTWRITEBYTECODE`` (tox sets it) an editable install
    has none, and every timed run would compile its imports again.
    """
    import compileall

    import global_reqid
    compileall.compile_dir(os.path.dirname(global_reqid.__file__),
                           quiet=1)


def warm(paths):
    """Read every file once, so the timed runs find them in the cache."""
    buffer = bytearray(16 << 20)
    total = 0
    start = time.perf_counter()
    for path in paths:
        with open(path, 'rb', buffering=0) as stream:
            while True:
                count = stream.readinto(buffer)
                if not count:
                    break
                total += count
    return total, time.perf_counter() - start


def prepare(directory, size, seed):
    """The manifest of the corpus in ``directory``, generating it if need
    be."""
    if os.path.exists(os.path.join(directory, trace_corpus.MANIFEST_FILE)):
        return trace_corpus.load(directory)
    if trace_corpus.inside_repo(directory):
        raise SystemExit('%s is inside the repository: corpora go '
                         'elsewhere' % directory)
    start = time.perf_counter()
    manifest = trace_corpus.generate(directory, size, seed)
    print('generated %s: %.0f MB in %.1f s' % (
        directory, manifest['size'] / 1e6, time.perf_counter() - start),
        file=sys.stderr)
    return manifest


def phases(request_id, corpus):
    """Time each step of the trace in this process: [(step, wall, cpu)].

    The steps of ``global_reqid.cmd.trace`` after its imports (finding
    the sources, the scan, parsing, correlating, rendering), called
    through the trace modules' public functions; the scan's CPU includes
    its workers'. Imports are timed apart (:func:`import_cost`): this
    process has the benchmark's own modules loaded already.
    """
    from global_reqid.cmd import trace as command
    from global_reqid.trace import correlate
    from global_reqid.trace import model
    from global_reqid.trace import parse
    from global_reqid.trace import scan
    from global_reqid.trace import sources as sources_mod
    from global_reqid.trace.render import text  # noqa: F401

    steps = []
    clock = [time.perf_counter(), time.process_time(), _children_cpu()]

    def mark(step):
        now = [time.perf_counter(), time.process_time(), _children_cpu()]
        steps.append((step, now[0] - clock[0],
                      now[1] - clock[1] + now[2] - clock[2]))
        clock[:] = now

    sources, _ = sources_mod.expand(logs=[corpus])
    stats = model.Stats()
    mark('expand sources')
    needle = request_id[len('req-'):].encode('ascii')
    raws = scan.find(sources, [needle], stats)
    mark('scan (%d lines found)' % len(raws))
    hints = {source.path: parse.service_from_path(source.path)
             for source in sources}
    events, lines = [], []
    for raw in raws:
        kind, value = parse.parse(raw, hints.get(raw.source))
        if kind == 'event':
            events.append(value)
        elif kind == 'log':
            lines.append(value)
    mark('parse (%d log lines)' % len(lines))
    global_id = correlate.global_id_for(request_id, events, lines)
    tree = correlate.build(global_id, request_id, events, lines, stats)
    mark('correlate')
    command.render(tree, 'text')
    mark('render text')
    return steps


def _children_cpu():
    times = os.times()
    return times.children_user + times.children_system


def import_cost(request_id, corpus, env):
    """Seconds ``-X importtime`` gives the command's own imports (those
    an empty interpreter does not make), and the costliest ones."""
    def imports(argv):
        # NOTE: fixed argv, no shell.
        result = subprocess.run(  # noqa: S603
            [sys.executable, '-X', 'importtime'] + argv, env=env,
            capture_output=True, text=True, check=False)
        costs = {}
        for row in result.stderr.splitlines():
            if not row.startswith('import time:') or 'cumulative' in row:
                continue
            _, cumulative, name = row[len('import time:'):].split('|')
            if not name.startswith('  '):   # top level: not nested
                costs[name.strip()] = int(cumulative) / 1e6
        return costs
    baseline = imports(['-c', 'pass'])
    costs = imports(['-m', 'global_reqid.cmd.trace', request_id, '--logs',
                     corpus])
    own = {name: cost for name, cost in costs.items()
           if name not in baseline}
    top = sorted(own.items(), key=lambda item: -item[1])[:5]
    return sum(own.values()), top


def measure_phases(request_id, corpus, runs, env):
    """Median (wall, cpu) per step over ``runs`` fresh interpreters: the
    interpreter's start, the command's imports, then its steps."""
    rows = {}
    tops = []
    for _ in range(runs):
        start = run([sys.executable, '-c', 'pass'], env)
        rows.setdefault('interpreter start', []).append((start.wall,
                                                         start.cpu))
        total, top = import_cost(request_id, corpus, env)
        rows.setdefault('imports (-X importtime)', []).append((total,
                                                               total))
        tops.append(top)
        # NOTE: fixed argv, no shell.
        result = subprocess.run(  # noqa: S603
            [sys.executable, os.path.abspath(__file__), '--phases-child',
             request_id, corpus], env=env, capture_output=True, text=True,
            check=False)
        if result.returncode != 0:
            raise Failed('timing the steps failed: %s'
                         % _tail(result.stderr))
        for step, wall, cpu in json.loads(result.stdout):
            rows.setdefault(step, []).append((wall, cpu))
    return {
        'steps': [(step, statistics.median(w for w, _ in values),
                   statistics.median(c for _, c in values))
                  for step, values in rows.items()],
        'costliest_imports': tops[len(tops) // 2],
    }


def render_phases(phases_):
    rows = phases_['steps']
    lines = ['', 'where the trace spends its time (median of fresh '
             'interpreters, full corpus; imports as -X importtime counts '
             'them, wall):',
             '%-36s %9s %9s' % ('step', 'wall ms', 'cpu ms')]
    for step, wall, cpu in rows:
        lines.append('%-36s %9.1f %9.1f' % (step, wall * 1e3, cpu * 1e3))
    lines.append('%-36s %9.1f %9.1f' % (
        'total', sum(w for _, w, _ in rows) * 1e3,
        sum(c for _, _, c in rows) * 1e3))
    lines.append('costliest imports: ' + ', '.join(
        '%s %.0f ms' % (name, cost * 1e3)
        for name, cost in phases_['costliest_imports']))
    return '\n'.join(lines)


class Failed(Exception):
    """A command failed or a check did not hold: the benchmark is void."""


def check_grep(corpus, manifest):
    """grep finds exactly the lines the generator wrote for the action."""
    counts = trace_corpus.grep_counts(corpus, manifest['id'])
    expected = manifest['action']['lines_with_id']
    if counts != expected:
        raise Failed('%s: grep -c found %s, the generator wrote %s'
                     % (corpus, counts, expected))
    return sum(counts.values())


def check_trace(corpus, manifest, env):
    """The text output names every service of the action (else Failed).

    Returns what the JSON output holds, for the table (None when the
    JSON format failed): the number of the action's lines in it, its
    hops, and how many of those match a hop the generator wrote (caller,
    callee, method and status alike).
    """
    argv = trace_argv(manifest['id'], corpus)
    # NOTE: fixed argv, no shell.
    result = subprocess.run(argv, env=env, capture_output=True,  # noqa: S603
                            text=True, check=False)
    if result.returncode != 0:
        raise Failed('%s exited %d: %s' % (' '.join(argv), result.returncode,
                                           _tail(result.stderr)))
    missing = [service for service in manifest['action']['services']
               if not re.search(r'(?<![\w.-])%s(?![\w-])' % re.escape(service),
                                result.stdout)]
    if missing:
        raise Failed('the trace of %s names no %s; its output began: %s'
                     % (corpus, ', '.join(missing),
                        result.stdout[:300].replace('\n', ' | ')))
    argv = trace_argv(manifest['id'], corpus, 'json')
    result = subprocess.run(argv, env=env, capture_output=True,  # noqa: S603
                            text=True, check=False)
    if result.returncode != 0:
        return None
    try:
        tree = json.loads(result.stdout)
    except ValueError:
        return None
    found = _hops(tree)
    expected = collections.Counter(
        (hop['caller'], hop['callee'], hop['method'], hop['status'])
        for hop in manifest['action']['hops'])
    matched = collections.Counter(found) & expected
    return {'lines': len(_action_lines(tree, manifest['id'])),
            'hops': len(found), 'hops_matched': sum(matched.values())}


def _hops(tree):
    """(caller, callee, method, status) of every hop of a JSON trace."""
    found = []

    def visit(hop):
        found.append((hop.get('caller'), hop.get('callee'),
                      hop.get('method'), hop.get('status')))
        for child in hop.get('children', ()):
            visit(child)
    for hop in tree.get('hops', ()):
        visit(hop)
    return found


def _action_lines(tree, request_id):
    """(source, offset) of the lines in a JSON trace that carry the id."""
    found = set()

    def visit(hop):
        for line in hop.get('lines', ()):
            if request_id in line.get('text', ''):
                found.add((os.path.basename(line['source']), line['offset']))
        for child in hop.get('children', ()):
            visit(child)
    for hop in tree.get('hops', ()):
        visit(hop)
    for line in tree.get('orphan_lines', ()):
        if request_id in line.get('text', ''):
            found.add((os.path.basename(line['source']), line['offset']))
    return found


def _tail(text, limit=400):
    text = ' | '.join(text.strip().splitlines()[-5:])
    return text[-limit:] or '(no error output)'


def measure(corpora, runs, env):
    """Alternate grep and trace on each corpus, ``runs`` times each.

    Returns {label: {subject: [Run]}}. The order within a round flips
    every round, so neither subject always runs on a cache the other
    just touched.
    """
    times = {label: {s: [] for s in SUBJECTS} for label in corpora}
    for number in range(runs):
        for label, (corpus, manifest) in corpora.items():
            order = SUBJECTS if number % 2 == 0 else SUBJECTS[::-1]
            for subject in order:
                argv = (grep_argv if subject == 'grep' else trace_argv)(
                    manifest['id'], corpus)
                result = run(argv, env)
                if result.status != 0:
                    raise Failed('%s exited %d: %s' % (
                        ' '.join(argv), result.status,
                        _tail(result.stderr)))
                times[label][subject].append(result)
    return times


def summarize(times, corpora, memory, found):
    """Medians, ratios and memory, as plain data."""
    rows = {}
    for label, by_subject in times.items():
        manifest = corpora[label][1]
        row = {'bytes': manifest['size'], 'runs': {}}
        for subject, results in by_subject.items():
            row['runs'][subject] = {
                'wall_s': statistics.median(r.wall for r in results),
                'cpu_s': statistics.median(r.cpu for r in results),
                'max_rss_mb': max(r.max_rss_kb for r in results) / 1024.0,
                'walls_s': [round(r.wall, 4) for r in results],
            }
        row['ratio'] = (row['runs']['trace']['wall_s']
                        / row['runs']['grep']['wall_s'])
        row['cpu_ratio'] = (row['runs']['trace']['cpu_s']
                            / row['runs']['grep']['cpu_s'])
        anon, files = memory[label]
        row['trace_private_mb'] = anon / 1024.0
        row['trace_file_mapped_mb'] = files / 1024.0
        row['action_lines'] = manifest['action']['total_lines_with_id']
        row['action_hops'] = len(manifest['action']['hops'])
        row['trace_found'] = found[label]
        rows[label] = row
    labels = list(rows)
    big, small = rows[labels[0]], rows[labels[-1]]
    return {
        'load': load_note(),
        'target': TARGET,
        'ratio': big['ratio'],
        'passed': big['ratio'] <= TARGET,
        'memory_growth': (big['trace_private_mb'] / small['trace_private_mb']
                          if small['trace_private_mb'] else None),
        'corpora': rows,
    }


def render(summary, runs, argv):
    head = '%-6s %8s %8s %7s %8s %8s %7s %9s %8s'
    lines = [' '.join(argv),
             'median of %d alternating runs each, warm page cache; %s'
             % (runs, summary['load']),
             '',
             head % ('', 'grep', 'trace', 'trace/', 'grep', 'trace',
                     'trace/', 'trace', 'trace'),
             head % ('corpus', 'wall s', 'wall s', 'grep', 'cpu s', 'cpu s',
                     'grep', 'peak RSS', 'private'),
             head % ('', '', '', '', '', '', '', 'MB', 'MB')]
    notes = []
    for row in summary['corpora'].values():
        grep, trace = row['runs']['grep'], row['runs']['trace']
        size = '%.0fM' % (row['bytes'] / 1e6)
        lines.append(
            '%-6s %8.3f %8.3f %7.2f %8.3f %8.3f %7.2f %9.1f %8.1f'
            % (size, grep['wall_s'], trace['wall_s'], row['ratio'],
               grep['cpu_s'], trace['cpu_s'], row['cpu_ratio'],
               trace['max_rss_mb'], row['trace_private_mb']))
        found = row['trace_found']
        if found is None:
            notes.append('%s: the JSON output failed: nothing counted'
                         % size)
        else:
            notes.append('%s: the trace holds %d of the %d lines with the '
                         'id; %d hops, %d of the %d written match (caller, '
                         'callee, method, status)'
                         % (size, found['lines'], row['action_lines'],
                            found['hops'], found['hops_matched'],
                            row['action_hops']))
    lines.append('')
    lines.append('%s: trace/grep wall %.2f, target <= %.1f' % (
        'PASS' if summary['passed'] else 'FAIL', summary['ratio'],
        summary['target']))
    growth = summary['memory_growth']
    if growth is not None:
        lines.append('trace private memory x%.2f for a corpus x2 (peak RSS '
                     'also counts the file pages the scan maps: page cache)'
                     % growth)
    return '\n'.join(lines + notes)


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError('must be at least 1')
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('--corpus', metavar='DIR', help='use (or generate and keep) the '
        'corpus in DIR, and its half in DIR.half (default: generate both '
        'in a temporary directory, removed at the end)')
    add('--size', type=trace_corpus.parse_size,
        default=trace_corpus.DEFAULT_SIZE, help='corpus size (default: 1G)')
    add('--seed', type=int, default=1, help='generator seed (default: 1)')
    add('--runs', type=_positive, default=5, help='runs of each command on '
        'each corpus (default: 5)')
    add('--json', action='store_true', help='machine-readable output')
    add('--phases', action='store_true', help='also time each step of '
        'the trace (imports, scan, parse, correlate, render)')
    add('--phases-child', nargs=2, metavar=('ID', 'DIR'),
        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phases_child:
        print(json.dumps(phases(*args.phases_child)))
        return 0
    if shutil.which('grep') is None:
        parser.error('grep is not on PATH')

    scratch = None
    if args.corpus:
        big_dir = os.path.abspath(args.corpus)
        half_dir = big_dir.rstrip(os.sep) + '.half'
    else:
        scratch = tempfile.mkdtemp(prefix='global-reqid-trace-bench-')
        big_dir = os.path.join(scratch, 'full')
        half_dir = os.path.join(scratch, 'half')
    try:
        return _bench(args, big_dir, half_dir)
    except Failed as exc:
        print('trace_bench: %s' % exc, file=sys.stderr)
        return 1
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _bench(args, big_dir, half_dir):
    big = prepare(big_dir, args.size, args.seed)
    half = prepare(half_dir, big['size'] // 2, big['seed'])
    if half['id'] != big['id']:
        raise Failed('%s and %s hold different actions' % (big_dir,
                                                          half_dir))
    corpora = {'full': (big_dir, big), 'half': (half_dir, half)}
    env = environment()
    compile_package()
    paths = trace_corpus.log_files(big_dir) + trace_corpus.log_files(half_dir)
    needed = sum(os.path.getsize(p) for p in paths)
    available = available_memory()
    if available < needed + (1 << 30):  # room for the processes too
        print('warning: %.1f GB available for %.1f GB of corpus: the page '
              'cache cannot hold it, timings include disk reads'
              % (available / 1e9, needed / 1e9), file=sys.stderr)
    read, took = warm(paths)
    print('page cache warmed: %.0f MB read in %.1f s; %.1f GB available'
          % (read / 1e6, took, available / 1e9), file=sys.stderr)

    found = {}
    for label, (corpus, manifest) in corpora.items():
        check_grep(corpus, manifest)
        found[label] = check_trace(corpus, manifest, env)
    times = measure(corpora, args.runs, env)
    memory = {label: sample_memory(trace_argv(manifest['id'], corpus), env)
              for label, (corpus, manifest) in corpora.items()}
    summary = summarize(times, corpora, memory, found)
    if args.phases:
        summary['phases'] = measure_phases(big['id'], big_dir, args.runs,
                                           env)
    command = trace_argv(big['id'], big_dir)
    if args.json:
        print(json.dumps(dict(summary, runs=args.runs, command=command,
                              id=big['id']), indent=2, sort_keys=True))
    else:
        print(render(summary, args.runs, command))
        if args.phases:
            print(render_phases(summary['phases']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
