"""Sphinx configuration for the global_reqid release notes (reno)."""

project = 'global_reqid Release Notes'
copyright = '2026, global_reqid developers'
author = 'global_reqid developers'

extensions = [
    'reno.sphinxext',
]

source_suffix = {'.rst': 'restructuredtext'}
root_doc = 'index'
exclude_patterns = ['_build']
pygments_style = 'sphinx'

# NOTE: reno computes the versions from git tags; the release notes have
# no version of their own.
version = ''
release = ''

html_theme = 'alabaster'
