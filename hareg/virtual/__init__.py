# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Serving through a virtual name (docs/virtual-remote.rst, "Virtual namespaces").

``docker/<path>`` resolves over the members of the virtual namespace ``docker`` in resolution
order (local members, then the caches of remote members, then their upstreams); pushes land in
its deploy member. What a caller may not pull directly is treated as absent: every function
here works on :class:`~hareg.virtual.members.Through`, which holds only the members whose
repository the caller may pull. No Flask here; the blueprints call in.
"""
