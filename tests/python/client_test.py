"""The Python client (client/python/voxel2pixel) against a real v2p-server
and worker over loopback gRPC: digit69 uploaded and trained through it,
reconstructions byte-identical to the C++ CLI's, streams with a bounded
window, refusals raised with their gRPC code, and progress messages read.

  client_test.py BIN_DIR SOURCE_DIR DATA_DIR   (PYTHONPATH: build/python)
"""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import grpc
import numpy as np

import matv5
import voxel2pixel
from harness import start_server

BIN, SOURCE, DATA = sys.argv[1:4]
DESCRIPTION = os.path.join(SOURCE, "examples", "digit69_dataset.pbtxt")
SPEC = os.path.join(SOURCE, "examples", "digit69_ridge.pbtxt")
MAT = os.path.join(DATA, "digit69", "digit69_28x28.mat")


class ClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="v2p_python_client_")
        cls.server, cls.address = start_server(BIN, cls.work)
        cls.client = voxel2pixel.Client(cls.address)
        cls.mat = matv5.load(MAT)
        cls.uploaded = cls.client.upload_dataset(DESCRIPTION, name="digit69")
        cls.progress = io.StringIO()
        cls.trained = cls.client.train("digit69", "digit69_ridge", spec=SPEC, wait=True,
                                       progress=cls.progress)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.terminate()
        cls.server.wait(timeout=60)
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_upload_and_train_report_what_they_made(self):
        self.assertEqual(self.uploaded.num_voxels, 3092)
        self.assertEqual((self.uploaded.num_train, self.uploaded.num_test), (90, 10))
        self.assertEqual(self.trained.model, "digit69_ridge")
        self.assertEqual(self.trained.version, 1)
        self.assertGreater(self.trained.metrics["pcc"], self.trained.baseline_metrics["pcc"])
        shown = self.progress.getvalue()
        self.assertIn(self.trained.job, shown)
        self.assertIn("DONE", shown)

    def test_reconstruct_gives_the_images_the_cli_gives(self):
        betas = self.mat["fmriTest"]
        got = self.client.reconstruct(betas, model="digit69_ridge", batch_size=4)
        self.assertEqual(got.images.shape, (10, 28, 28))
        self.assertEqual(got.model_version, 1)
        self.assertTrue(np.all(got.timings["total"] > 0))
        self.assertTrue(np.all(got.timings["total"] >= got.timings["decode"]))
        out = os.path.join(self.work, "cli")
        subprocess.run([os.path.join(BIN, "v2p"), "reconstruct", "--server", self.address,
                        "--model", "digit69_ridge", "--betas", MAT, "--var", "fmriTest",
                        "--out", out], check=True, stdout=subprocess.DEVNULL)
        for r in got.results:
            with open(os.path.join(out, r.sample_id + ".png"), "rb") as f:
                self.assertEqual(r.png, f.read(), r.sample_id)
        # The same betas kept as NumPy files (.npz member, .npy named after
        # its file) give the CLI the same images.
        np.savez(os.path.join(self.work, "betas.npz"), fmriTest=betas)
        np.save(os.path.join(self.work, "fmriTest.npy"), betas)
        for kept in ("betas.npz", "fmriTest.npy"):
            other = os.path.join(self.work, "cli_" + kept)
            subprocess.run([os.path.join(BIN, "v2p"), "reconstruct", "--server", self.address,
                            "--model", "digit69_ridge", "--betas",
                            os.path.join(self.work, kept), "--var", "fmriTest", "--out", other],
                           check=True, stdout=subprocess.DEVNULL)
            for r in got.results:
                with open(os.path.join(other, r.sample_id + ".png"), "rb") as f:
                    self.assertEqual(r.png, f.read(), kept + " " + r.sample_id)
        # Arrays are row-major images: they correlate with the stimuli
        # (stored column-major in the file) far above chance.
        stimuli = self.mat["stimTest"].reshape(10, 28, 28).transpose(0, 2, 1) / 255
        pcc = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(got.images, stimuli)]
        self.assertGreater(np.mean(pcc), 0.5)

    def test_a_stream_keeps_order_and_reads_no_further_than_its_window(self):
        betas = self.mat["fmriTest"]
        pulled = []

        def trials():
            for i, row in enumerate(betas):
                pulled.append(i)
                yield ("trial_%d" % i, row)

        unary = self.client.reconstruct(betas, model="digit69_ridge")
        taken = 0
        for result in self.client.stream(trials(), model="digit69_ridge", window=3):
            self.assertEqual(result.sample_id, "trial_%d" % taken)
            np.testing.assert_array_equal(result.image, unary.results[taken].image)
            taken += 1
            self.assertLessEqual(len(pulled), taken + 3)
        self.assertEqual(taken, 10)

    def test_refusals_raise_with_their_grpc_code(self):
        betas = self.mat["fmriTest"][:2]
        cases = [
            (betas[:, :100], "digit69_ridge", grpc.StatusCode.INVALID_ARGUMENT),
            (np.where(np.arange(3092) == 7, np.nan, betas[0]), "digit69_ridge",
             grpc.StatusCode.INVALID_ARGUMENT),
            (betas, "no_such_model", grpc.StatusCode.NOT_FOUND),
            (betas, "../escape", grpc.StatusCode.INVALID_ARGUMENT),
        ]
        for trial, model, code in cases:
            with self.assertRaises(voxel2pixel.Error) as raised:
                self.client.reconstruct(trial, model=model)
            self.assertEqual(raised.exception.code, code, str(raised.exception))
            self.assertEqual(raised.exception.call, "Reconstruct")
        with self.assertRaises(voxel2pixel.Error) as raised:
            list(self.client.stream([betas[0][:10]], model="digit69_ridge"))
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(voxel2pixel.Error) as raised:
            self.client.train("digit69", "bad_alpha",
                              spec="target: TARGET_SPACE_PIXELS generator { identity {} } "
                                   "decoder { ridge { alpha: -1 } }")
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        # Progress comes only from a refined model (method shen); the
        # server's refusal arrives as the exception, from the progress call.
        with self.assertRaises(voxel2pixel.Error) as raised:
            self.client.reconstruct(betas, model="digit69_ridge", progress_every=5,
                                    on_progress=lambda p: None)
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(raised.exception.call, "ReconstructWithProgress")
        self.assertIn("no refine stage", str(raised.exception))
        with self.assertRaises(ValueError):
            self.client.reconstruct(np.zeros((2, 2, 2)), model="digit69_ridge")
        # The server kept serving.
        self.assertEqual(len(self.client.reconstruct(betas, model="digit69_ridge").results), 2)

    def test_progress_messages_become_arrays(self):
        # What on_progress gets from a RefineProgress (a refined model's
        # stream is exercised in C++, FeatureDecoding.ShenModel...; no shen
        # model is trained here).
        from voxel2pixel._client import _progress
        from voxel2pixel.v1 import reconstruction_pb2
        message = reconstruction_pb2.RefineProgress(iteration=30)
        for i in range(3):
            sample = message.samples.add(sample_id="t%d" % i, loss=1.0 / (i + 1))
            sample.image.height, sample.image.width, sample.image.channels = 2, 3, 1
            sample.image.pixels.extend(np.full(6, i / 10.0, dtype=np.float32))
        progress = _progress(message)
        self.assertEqual(progress.iteration, 30)
        self.assertEqual(progress.sample_ids, ["t0", "t1", "t2"])
        np.testing.assert_allclose(progress.loss, [1.0, 0.5, 1.0 / 3])
        self.assertEqual(progress.images.shape, (3, 2, 3))
        np.testing.assert_allclose(progress.images[2], np.full((2, 3), 0.2), rtol=1e-6)
        del message.samples[1].image.pixels[-1]
        with self.assertRaises(voxel2pixel.Error) as raised:
            _progress(message)
        self.assertEqual(raised.exception.code, grpc.StatusCode.DATA_LOSS)

    def test_jobs_and_models_list_what_was_made(self):
        jobs = self.client.jobs()
        mine = [j for j in jobs if j.name == self.trained.job]
        self.assertEqual(len(mine), 1)
        self.assertTrue(mine[0].done)
        self.assertEqual((mine[0].phase, mine[0].version, mine[0].error), ("DONE", 1, None))
        self.assertEqual(self.client.job(self.trained.job).model, "digit69_ridge")
        models = {m.name: m for m in self.client.models()}
        self.assertIn("digit69_ridge", models)
        self.assertEqual(models["digit69_ridge"].num_voxels, 3092)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
