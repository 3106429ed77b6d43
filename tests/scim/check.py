"""scim2-tester (PyPI) against a running node: tests/tests/sso.rs runs it with
COSELL_SCIM_URL (the node's /scim/v2) and COSELL_SCIM_TOKEN. Prints one line per check and
exits 1 when any check ends in ERROR (a MUST of RFC 7643/7644 broken)."""

import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
from scim2_tester.utils import Status

url = os.environ["COSELL_SCIM_URL"]
token = os.environ["COSELL_SCIM_TOKEN"]
client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
results = check_server(client)
errors = 0
for r in results:
    if r.status == Status.ERROR:
        errors += 1
    where = f"[{r.resource_type}] " if r.resource_type else ""
    print(f"{r.status.name:<10} {where}{r.title}: {r.reason or ''}")
print(f"{len(results)} checks, {errors} errors")
sys.exit(1 if errors or not results else 0)
