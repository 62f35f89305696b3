"""voxel2pixel: a Python client for the voxel2pixel reconstruction service.

    import numpy as np, voxel2pixel
    client = voxel2pixel.Client("127.0.0.1:8500")          # token=, tls_ca= when set up
    out = client.reconstruct(betas, model="digit69_ridge")  # betas: (trials, voxels)
    out.images          # (trials, height, width[, channels]) float32 in [0, 1]
    out.timings["total"]  # seconds per trial, and per stage
    # a refined model (method shen): its loss and images as it goes
    client.reconstruct(betas, model="digit69_shen", progress_every=20,
                       on_progress=lambda p: print(p.iteration, p.loss.mean()))

Everything the service refuses comes back as voxel2pixel.Error, carrying the
gRPC status code (error.code, a grpc.StatusCode) and the server's message.
The stubs under voxel2pixel.v1 and google.longrunning are generated from the
repository's proto/ when the project is built (build/python).
"""

from voxel2pixel._client import (Client, Error, Job, JobFailed, Progress, Reconstruction,
                                 Result, TrainingResult)

__all__ = ["Client", "Error", "Job", "JobFailed", "Progress", "Reconstruction", "Result",
           "TrainingResult"]
