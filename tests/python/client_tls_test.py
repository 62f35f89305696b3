"""The Python client against a server with TLS and lab tokens on: it is
served with the CA and its lab's token (given, or from V2P_TOKEN), and
refused without the CA (UNAVAILABLE), without a token or with a wrong one
(UNAUTHENTICATED), and on a role its token lacks (PERMISSION_DENIED).
Certificates are made by the openssl command for each run.

  client_tls_test.py BIN_DIR   (PYTHONPATH: build/python and tests/python)
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import grpc

import voxel2pixel
from harness import start_server

BIN = sys.argv[1]
READER, TRAINER = "tok-reader-4f1c", "tok-trainer-9a2e"


def make_certificates(folder):
    """ca.pem and a server.pem it signs for 127.0.0.1."""
    script = (
        "set -e; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=v2p-test-ca; openssl req -newkey rsa:2048 -nodes -keyout server.key "
        "-out server.csr -subj /CN=server; printf 'subjectAltName=IP:127.0.0.1\\n' > san.cnf; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile san.cnf")
    subprocess.run(["bash", "-c", script], cwd=folder, check=True, capture_output=True)


class ClientTlsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="v2p_python_tls_")
        make_certificates(cls.work)
        tokens = os.path.join(cls.work, "tokens")
        with open(tokens, "w") as f:
            for token, lab, roles in ((READER, "lab-r", "reconstruct"),
                                      (TRAINER, "lab-t", "reconstruct,train")):
                f.write("%s %s %s\n" % (hashlib.sha256(token.encode()).hexdigest(), lab, roles))
        cls.server, cls.address = start_server(BIN, cls.work, [
            "--tls_cert=" + os.path.join(cls.work, "server.pem"),
            "--tls_key=" + os.path.join(cls.work, "server.key"), "--auth_tokens=" + tokens])
        cls.ca = os.path.join(cls.work, "ca.pem")

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(timeout=60)
        shutil.rmtree(cls.work, ignore_errors=True)

    def code_of(self, call):
        with self.assertRaises(voxel2pixel.Error) as raised:
            call()
        return raised.exception.code

    def test_the_ca_and_a_token_are_needed_and_roles_hold(self):
        with voxel2pixel.Client(self.address, token=READER, tls_ca=self.ca) as reader:
            self.assertEqual(reader.models(), [])
            self.assertEqual(self.code_of(reader.datasets), grpc.StatusCode.PERMISSION_DENIED)
        with voxel2pixel.Client(self.address, token=TRAINER, tls_ca=self.ca) as trainer:
            self.assertEqual(trainer.datasets(), [])
        with voxel2pixel.Client(self.address, token="not-a-token", tls_ca=self.ca) as stranger:
            self.assertEqual(self.code_of(stranger.models), grpc.StatusCode.UNAUTHENTICATED)
        os.environ.pop("V2P_TOKEN", None)
        with voxel2pixel.Client(self.address, tls_ca=self.ca, timeout=10) as anonymous:
            self.assertEqual(self.code_of(anonymous.models), grpc.StatusCode.UNAUTHENTICATED)
        with voxel2pixel.Client(self.address, token=READER, timeout=5) as plaintext:
            self.assertEqual(self.code_of(plaintext.models), grpc.StatusCode.UNAVAILABLE)

    def test_the_token_and_ca_come_from_the_environment(self):
        os.environ["V2P_TOKEN"] = TRAINER
        os.environ["V2P_TLS_CA"] = self.ca
        try:
            with voxel2pixel.Client(self.address) as client:
                self.assertEqual(client.datasets(), [])
        finally:
            del os.environ["V2P_TOKEN"], os.environ["V2P_TLS_CA"]


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
