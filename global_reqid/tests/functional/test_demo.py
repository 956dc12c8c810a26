"""``global-reqid-trace demo`` runs two real services and shares one id."""

import re
import shutil
import subprocess
import sys

from global_reqid.cmd import trace

ID = r'req-[0-9a-f-]{36}'


def _command():
    script = shutil.which('global-reqid-trace')
    return [script] if script else [sys.executable, '-m',
                                    'global_reqid.cmd.trace']


def test_demo_log_lines_share_the_global_id():
    """Both services log the client's global id beside distinct local ids."""
    out = subprocess.run(_command() + ['demo'], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    sent = re.search(r'X-OpenStack-Request-ID: (%s)' % ID, out.stdout)[1]
    pairs = re.findall(r' (compute|image)\.api \[(%s) (%s)\]' % (ID, ID),
                       out.stdout)
    assert {p[0] for p in pairs} == {'compute', 'image'}
    assert all(p[1] == sent for p in pairs)
    locals_ = {p[0]: p[2] for p in pairs}
    assert len(set(locals_.values())) == 2 and sent not in locals_.values()
    # The sequence events: client -> compute-api -> image-api, with the
    # local ids the services logged.
    arrows = re.findall(r'  \S+ (\S+) +-> (\S+) .* (%s)$' % ID, out.stdout,
                        re.MULTILINE)
    assert arrows == [('client', 'compute-api', locals_['compute']),
                      ('compute-api', 'image-api', locals_['image'])]


def test_demo_rejects_arguments(capsys):
    """``demo`` takes no arguments: exit 2 and argparse's error on stderr."""
    assert trace.main(['demo', 'extra']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('global-reqid-trace demo: error:')


def test_demo_help_exits_zero(capsys):
    """``demo --help`` describes the demo and exits 0."""
    assert trace.main(['demo', '--help']) == 0
    assert '127.0.0.1' in capsys.readouterr().out
