"""Sphinx configuration for the global_reqid documentation."""

project = 'global_reqid'
copyright = '2026, global_reqid developers'
author = 'global_reqid developers'

extensions = [
    'sphinx.ext.autodoc',
    'oslo_config.sphinxext',
]

# NOTE: the version comes from the installed distribution (pbr), so the
# docs never disagree with what ``pip show global_reqid`` reports.
try:
    from global_reqid import version as _version

    release = _version.version_string()
except ImportError:
    release = 'unknown'
version = release

source_suffix = {'.rst': 'restructuredtext'}
root_doc = 'index'
exclude_patterns = ['_build']
pygments_style = 'sphinx'

autodoc_member_order = 'bysource'
autodoc_default_options = {
    'members': True,
    'show-inheritance': True,
}

html_theme = 'alabaster'
html_title = 'global_reqid %s' % release
