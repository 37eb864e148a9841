# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg: a highly available OCI container registry.

``__version__`` is the one place the version is written: setup.cfg reads it
(``version = attr: hareg.__version__``) and ``hareg --version`` prints it.
"""

__version__ = "0.1.0"
