"""moto_server whose KMS keys outlive a restart.

moto keeps everything in memory, and its KMS makes each key's material at random, so after a
restart of the local stack every secret sealed before it (n8n credentials, tool headers) no longer
decrypts while DynamoDB Local still holds the ciphertext. This starts moto's own server after
teaching its KMS backend to write each key (id, material, aliases) to a JSON file when it is made
or named, and to make those keys again, under the same ids and material, when it starts.

    python infra/moto_server.py --kms-state FILE [moto_server's own arguments]

Without --kms-state it is moto_server as it is (the test stack, which starts from nothing).
"""

import base64
import json
import os
import sys
import threading

from moto import server
from moto.kms import models as kms

_lock = threading.Lock()


def _records():
    for account_id, regions in kms.kms_backends.items():
        for region, backend in regions.items():
            for key in backend.keys.values():
                yield {
                    "account": account_id,
                    "region": region,
                    "id": key.id,
                    "material": base64.b64encode(key.key_material).decode(),
                    "usage": key.key_usage,
                    "spec": key.key_spec,
                    "description": key.description,
                    "aliases": sorted(key.aliases),
                }


def _save(path):
    with _lock:
        records = [r for r in _records() if r["spec"] == "SYMMETRIC_DEFAULT"]
        tmp = path + ".tmp"
        with open(tmp, "w") as out:
            json.dump(records, out, indent=1)
        os.replace(tmp, path)


def _restore(path):
    if not os.path.exists(path):
        return 0
    with open(path) as source:
        records = json.load(source)
    for record in records:
        backend = kms.kms_backends[record["account"]][record["region"]]
        key = backend.create_key(None, record["usage"], record["spec"], record["description"], None)
        del backend.keys[key.id]
        key.arn = key.arn.replace(key.id, record["id"])
        key.id = record["id"]
        key.key_material = base64.b64decode(record["material"])
        backend.keys[key.id] = key
        for alias in record["aliases"]:
            backend.create_alias(key.id, alias)
    return len(records)


def _persist_changes(path):
    """Writes the key file after every call that makes or names a key."""
    for name in ("create_key", "create_alias", "update_alias", "delete_alias"):
        original = getattr(kms.KmsBackend, name)

        def saving(self, *args, __original=original, **kwargs):
            result = __original(self, *args, **kwargs)
            _save(path)
            return result

        setattr(kms.KmsBackend, name, saving)


def main(argv):
    path = None
    if "--kms-state" in argv:
        at = argv.index("--kms-state")
        path = os.path.abspath(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        restored = _restore(path)
        _persist_changes(path)
        print(f"[moto] {restored} KMS key(s) restored from {path}", file=sys.stderr, flush=True)
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
