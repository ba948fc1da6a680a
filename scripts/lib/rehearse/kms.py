"""A KMS stand-in: one symmetric key per (stack) region, GenerateDataKey and Decrypt as the
functions call them (aws-sdk-kms, JSON 1.1 protocol).

Like KMS: a key exists only in its own region, so a key ARN of another region is refused unless
the call is made in that region (NotFoundException); Decrypt checks that the ciphertext was
wrapped by the named key (IncorrectKeyException) and that the encryption context is the one it was
wrapped with (InvalidCiphertextException). Data keys are random; the ciphertext blob names its
key and an id this process remembers (not a model of KMS's cryptography).
"""

import base64
import json
import os
import threading

MAGIC = b"CNPYKMS1"


class Kms:
    def __init__(self, keys_by_region):
        """keys_by_region: {aws region: key ARN}."""
        self.keys = dict(keys_by_region)
        self.wrapped = {}
        self.lock = threading.Lock()

    @staticmethod
    def blob_key(blob):
        """The key ARN a ciphertext blob names, or None."""
        if not blob.startswith(MAGIC):
            return None
        arn, _, _ = blob[len(MAGIC):].partition(b"|")
        return arn.decode(errors="replace")

    def _key(self, region, key_id):
        key = self.keys.get(region)
        if key is None or key_id not in (key, key.rsplit("/", 1)[-1]):
            return None, (400, {"__type": "NotFoundException",
                                "message": f"Key '{key_id}' does not exist in {region}"})
        return key, None

    def call(self, region, operation, request):
        """(status, answer document)."""
        b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
        context = request.get("EncryptionContext") or {}
        if operation == "GenerateDataKey":
            key, error = self._key(region, request.get("KeyId", ""))
            if error:
                return error
            plaintext = os.urandom(32)
            ident = os.urandom(16).hex()
            blob = MAGIC + key.encode() + b"|" + ident.encode()
            with self.lock:
                self.wrapped[blob] = (plaintext, context)
            return 200, {"KeyId": key, "Plaintext": b64(plaintext), "CiphertextBlob": b64(blob)}
        if operation == "Decrypt":
            try:
                blob = base64.b64decode(request["CiphertextBlob"])
            except (KeyError, ValueError):
                return 400, {"__type": "InvalidCiphertextException", "message": "no ciphertext"}
            named = self.blob_key(blob)
            key_id = request.get("KeyId") or named or ""
            key, error = self._key(region, key_id)
            if error:
                return error
            if named != key:
                return 400, {"__type": "IncorrectKeyException", "message": "wrapped by another key"}
            with self.lock:
                entry = self.wrapped.get(blob)
            if entry is None or entry[1] != context:
                return 400, {"__type": "InvalidCiphertextException", "message": "context or ciphertext mismatch"}
            return 200, {"KeyId": key, "Plaintext": b64(entry[0]), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        return 400, {"__type": "UnsupportedOperationException", "message": operation}


def decode_request(body):
    return json.loads(body or b"{}")
