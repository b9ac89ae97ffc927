"""MkDocs hook: drop Sphinx cross-reference roles from rendered docstrings.

Some docstrings name objects the Sphinx way (``:class:`SchemaError```,
``:mod:`~clinisynth.guard```). Markdown renders the backticked part as code and leaves the
role as text (":class:SchemaError"); this hook removes the role (and the ``~`` shortening
marker), leaving the name as code. It only touches a role directly followed by inline code,
which prose never contains.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:attr|class|data|exc|func|meth|mod|obj):<code>~?")


def on_page_content(html, page, config, files):
    return _ROLE.sub("<code>", html)
