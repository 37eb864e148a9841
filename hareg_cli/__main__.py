# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
from hareg_cli.main import cli

cli(prog_name="hareg")
