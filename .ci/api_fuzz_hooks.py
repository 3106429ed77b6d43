"""Schemathesis hooks for .ci/api-fuzz (loaded through SCHEMATHESIS_HOOKS).

A policy is a TOML text (`Content-Type: application/toml`); Schemathesis has no serializer for
that type, so it would skip the TOML variant of the policy routes. The body is text: send the
generated string as it is, as it does for text/plain.
"""

import schemathesis

schemathesis.serializer.alias("application/toml", "text/plain")
