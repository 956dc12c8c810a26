"""Tests of global_reqid.cmd.trace: the global-reqid-trace command."""

from importlib import metadata
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from global_reqid.cmd import trace

PROG = 'global-reqid-trace'


@pytest.fixture
def installed_version():
    version = metadata.version('global_reqid')
    assert version and version != 'unknown'
    return version


@pytest.fixture
def script():
    """The installed console script, beside this interpreter or on PATH."""
    path = os.path.join(os.path.dirname(sys.executable), PROG)
    if not os.access(path, os.X_OK):
        path = shutil.which(PROG)
    assert path, '%s is not installed' % PROG
    return path


def run_main(argv):
    """Run main(); return its exit status whether returned or raised."""
    try:
        return trace.main(argv)
    except SystemExit as exc:
        return exc.code


def test_version_prints_installed_version(capsys, installed_version):
    """--version exits 0 and prints the program and installed version."""
    assert run_main(['--version']) == 0
    out = capsys.readouterr().out
    assert out == '%s %s\n' % (PROG, installed_version)


def test_help_exits_zero_and_documents_exit_status(capsys):
    """--help exits 0, shows usage and the exit statuses."""
    assert run_main(['--help']) == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: %s' % PROG)
    assert 'exit status' in out


#: What --help must not import: each costs tens of milliseconds, and
#: --help must answer in under 150 ms (the issue's target).
HEAVY = ('oslo_config', 'oslo_log', 'oslo_context', 'keystoneauth1',
         'webob', 'yaml', 'pbr', 'importlib.metadata', 'global_reqid.trace',
         'global_reqid.middleware', 'global_reqid.client',
         'global_reqid.events.recorder', 'global_reqid.events.sinks')


@pytest.mark.parametrize('argv', [['--help'], ['demo', '--help'],
                                  ['record', '--help']])
def test_help_imports_nothing_heavy(argv):
    """--help (the command's and its subcommands') loads only the
    standard library and the command module, in a fresh interpreter."""
    code = ('import sys\n'
            'from global_reqid.cmd import trace\n'
            'try:\n'
            '    trace.main(%r)\n'
            'except SystemExit:\n'
            '    pass\n'
            'sys.stderr.write(repr(sorted(sys.modules)))\n' % (argv,))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.startswith('usage: ')
    loaded = eval(out.stderr)  # noqa: S307 (our own repr of a list)
    heavy = [name for name in loaded
             if any(name == h or name.startswith(h + '.') for h in HEAVY)]
    assert heavy == []


def test_missing_id_is_bad_usage(capsys):
    """No id at all is bad usage: exit 2."""
    assert run_main([]) == 2
    assert capsys.readouterr().err


@pytest.mark.parametrize(
    'bad',
    [
        'junk',
        'req-%s\nFAKE LOG LINE injected' % uuid.UUID(int=1),
        'evil\r\x1b[31mred\x1b[0m',
        'x' * 5000,
        'req-\u0661\u0662345678-1234-4234-8234-123456789abc',
        'line\u2028separator',
    ],
)
def test_bad_id_exits_2_with_usage_and_one_safe_line(capsys, bad):
    """A bad id exits 2: usage, then one printable error line, escaped."""
    assert run_main([bad]) == 2
    captured = capsys.readouterr()
    assert captured.out == ''
    err = captured.err
    assert err.startswith('usage: %s' % PROG)
    assert err.endswith('\n')
    line = err[:-1].splitlines()[-1]
    assert '\r' not in err and '\x1b' not in err
    assert line.startswith('%s: error: ' % PROG)
    assert line.isprintable()
    assert len(line) < 300
    assert 'not a request id' in line


@pytest.mark.parametrize(
    'given',
    [
        'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        '0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        '0B8F1C3E-52A4-4C9E-9D3A-1F2E3D4C5B6A',
    ],
)
def test_valid_id_is_not_bad_usage(capsys, given):
    """A valid id or bare uuid is accepted; with no sources: exit 1."""
    assert run_main([given]) == 1
    err = capsys.readouterr().err
    assert 'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a' in err
    assert 'not a request id' not in err


def test_installed_script_version(script, installed_version):
    """The installed console script runs and reports the version."""
    result = subprocess.run(
        [script, '--version'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '%s %s' % (PROG, installed_version)


def test_installed_script_bad_id_exits_2(script):
    """The installed console script exits 2 for a bad id."""
    result = subprocess.run(
        [script, 'not-an-id'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith('usage: ')
    assert result.stderr.splitlines()[-1].startswith(PROG + ': error: ')


def test_module_runs_as_a_program(installed_version):
    """python -m global_reqid.cmd.trace behaves as the script does."""
    result = subprocess.run(
        [sys.executable, '-m', 'global_reqid.cmd.trace', '--version'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert installed_version in result.stdout
