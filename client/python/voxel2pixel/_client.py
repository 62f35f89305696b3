"""The client: one channel to a v2p-server and a method per thing a lab does.

Only the public API (proto/voxel2pixel/v1 and google.longrunning) is used, as
any generated client would; this module adds what every lab would otherwise
write again: numpy in and out, batching, a stream with a bounded window,
chunked uploads with their SHA-256, job polling with a progress bar, and
errors as exceptions that carry the gRPC code.
"""

import dataclasses
import hashlib
import itertools
import os
import sys
import threading
import time
from typing import Dict, Iterable, Iterator, List, Optional, Union

import grpc
import numpy as np
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import text_format

from voxel2pixel.v1 import (datasets_pb2, datasets_service_pb2_grpc, models_pb2,
                            models_service_pb2_grpc, pipeline_spec_pb2, reconstruction_pb2,
                            reconstruction_service_pb2_grpc, training_pb2,
                            training_service_pb2_grpc)

_CHUNK_BYTES = 1 << 20
_STAGES = ("queue", "preprocess", "decode", "generate", "refine", "encode", "total")
_PHASES = {v.number: v.name for v in training_pb2.TrainingJobMetadata.Phase.DESCRIPTOR.values}


class Error(Exception):
    """A call the service refused or that failed: `code` is its
    grpc.StatusCode, `details` the server's message, `call` the RPC."""

    def __init__(self, code: grpc.StatusCode, details: str, call: str = ""):
        self.code = code
        self.details = details
        self.call = call
        super().__init__("%s%s: %s" % (call + " " if call else "", code.name, details))


class JobFailed(Error):
    """A training job that ended failed or cancelled; `job` is its name."""

    def __init__(self, job: str, code: grpc.StatusCode, details: str):
        self.job = job
        super().__init__(code, details, job)


@dataclasses.dataclass
class Result:
    """One reconstructed trial."""
    sample_id: str
    image: np.ndarray  # (height, width) or (height, width, channels), float32 in [0, 1]
    png: bytes  # the image as the server encoded it
    timings: Dict[str, float]  # seconds per stage ("queue", ..., "total")
    model: str
    model_version: int


@dataclasses.dataclass
class Reconstruction:
    """The trials of one reconstruct() call, in the order sent."""
    results: List[Result]

    @property
    def images(self) -> np.ndarray:
        """(trials, height, width[, channels]) float32 in [0, 1]."""
        return np.stack([r.image for r in self.results])

    @property
    def timings(self) -> Dict[str, np.ndarray]:
        """Seconds per trial for each stage."""
        return {s: np.array([r.timings[s] for r in self.results]) for s in _STAGES}

    @property
    def model_version(self) -> int:
        return self.results[0].model_version if self.results else 0


@dataclasses.dataclass
class Progress:
    """Where a refine stage (method shen) stands: reconstruct()'s on_progress
    gets one every progress_every iterations."""
    iteration: int
    sample_ids: List[str]
    loss: np.ndarray  # one per trial
    images: np.ndarray  # (trials, height, width[, channels]) float32 in [0, 1]


@dataclasses.dataclass
class Job:
    """A training job (a google.longrunning operation) as last seen."""
    name: str
    done: bool
    phase: str
    model: str
    dataset: str
    step: int
    total_steps: int
    loss: float
    owner: str
    error: Optional[Error]  # when done and failed
    version: int  # the model version it made, when done and succeeded


@dataclasses.dataclass
class TrainingResult:
    job: str
    model: str
    version: int
    metrics: Dict[str, float]  # the model's scores on its test split
    baseline_metrics: Dict[str, float]  # the mean training image's


def _seconds(duration) -> float:
    return duration.seconds + duration.nanos * 1e-9


def _read_bytes(path_or_bytes: Union[str, bytes, None]) -> Optional[bytes]:
    if path_or_bytes is None or isinstance(path_or_bytes, bytes):
        return path_or_bytes
    with open(path_or_bytes, "rb") as f:
        return f.read()


class Client:
    """A connection to a v2p-server.

    address: "host:port". token: the lab's bearer token (default: the
    V2P_TOKEN environment variable; none when unset). tls_ca: PEM of the CA
    that signed the server's certificate, as bytes or a path (default:
    V2P_TLS_CA; plaintext when unset); tls_cert and tls_key for mutual TLS.
    timeout: seconds allowed for each call (reconstruct: per batch).
    """

    def __init__(self, address: str, token: Optional[str] = None, tls_ca=None, tls_cert=None,
                 tls_key=None, timeout: float = 60.0):
        token = token if token is not None else os.environ.get("V2P_TOKEN") or None
        tls_ca = tls_ca if tls_ca is not None else os.environ.get("V2P_TLS_CA") or None
        options = [("grpc.max_receive_message_length", 256 << 20),
                   ("grpc.max_send_message_length", 256 << 20)]
        if tls_ca is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_bytes(tls_ca), private_key=_read_bytes(tls_key),
                certificate_chain=_read_bytes(tls_cert))
            self._channel = grpc.secure_channel(address, credentials, options)
        else:
            self._channel = grpc.insecure_channel(address, options)
        self._metadata = (("authorization", "Bearer " + token),) if token else ()
        self._timeout = timeout
        self._reconstruction = reconstruction_service_pb2_grpc.ReconstructionStub(self._channel)
        self._models = models_service_pb2_grpc.ModelsStub(self._channel)
        self._datasets = datasets_service_pb2_grpc.DatasetsStub(self._channel)
        self._training = training_service_pb2_grpc.TrainingStub(self._channel)
        self._operations = operations_pb2_grpc.OperationsStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, name: str, method, request, timeout: Optional[float] = None):
        try:
            return method(request, timeout=timeout or self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise Error(e.code(), e.details() or "", name) from None

    # Reconstruction ---------------------------------------------------------

    def reconstruct(self, betas, model: str, version: int = 0, batch_size: int = 32,
                    ids: Optional[List[str]] = None, refine_iterations: int = 0,
                    progress_every: int = 0, on_progress=None) -> Reconstruction:
        """Reconstructs each row of `betas` (trials x voxels; one trial may be
        a 1-D array), `batch_size` trials per request. Trials are named
        `ids` (default sample_000, sample_001, ...).

        A refined model (method shen) runs `refine_iterations` iterations
        (0: the model's own). With `progress_every` > 0 each request is a
        ReconstructWithProgress call and `on_progress` gets a Progress every
        that many iterations; raising from it cancels the call."""
        rows = _as_rows(betas)
        ids = ids if ids is not None else ["sample_%03d" % i for i in range(len(rows))]
        if len(ids) != len(rows):
            raise ValueError("%d ids for %d trials" % (len(ids), len(rows)))
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        results = []
        for start in range(0, len(rows), batch_size):
            request = reconstruction_pb2.ReconstructRequest(
                model=model, model_version=version, include_pixels=True,
                refine_iterations=refine_iterations, progress_every=progress_every)
            for i in range(start, min(len(rows), start + batch_size)):
                request.samples.add(id=ids[i], betas=rows[i])
            if progress_every > 0:
                response = self._with_progress(request, on_progress)
            else:
                response = self._call("Reconstruct", self._reconstruction.Reconstruct, request)
            if len(response.results) != len(request.samples):
                raise Error(grpc.StatusCode.DATA_LOSS, "%d results for %d trials" %
                            (len(response.results), len(request.samples)), "Reconstruct")
            results.extend(_result(r) for r in response.results)
        return Reconstruction(results)

    def _with_progress(self, request, on_progress):
        call = self._reconstruction.ReconstructWithProgress(request, timeout=self._timeout,
                                                            metadata=self._metadata)
        response = None
        try:
            for message in call:
                if message.HasField("response"):
                    response = message.response
                elif on_progress is not None:
                    on_progress(_progress(message.progress))
        except grpc.RpcError as e:
            raise Error(e.code(), e.details() or "", "ReconstructWithProgress") from None
        finally:
            call.cancel()  # when on_progress raised; nothing once the call has ended
        if response is None:
            raise Error(grpc.StatusCode.DATA_LOSS, "the progress stream ended without a response",
                        "ReconstructWithProgress")
        return response

    def stream(self, trials: Iterable, model: str, version: int = 0,
               window: int = 8) -> Iterator[Result]:
        """Reconstructs trials as they come (e.g. from the scanner), one
        StreamReconstruct call, yielding each result in the order sent.
        `trials` yields 1-D betas or (id, betas) pairs. At most `window`
        trials are sent ahead of the results taken, so a slow consumer slows
        the reading of `trials` (backpressure) instead of queueing them."""
        if window < 1:
            raise ValueError("window must be at least 1")
        room = threading.Semaphore(window)
        stop = threading.Event()

        def requests():
            source = iter(trials)
            for n in itertools.count():
                # A place in the window first, then the next trial: the
                # iterable is never read ahead of the window.
                while not room.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                trial = next(source, None)
                if trial is None:
                    return
                sample_id, betas = trial if isinstance(trial, tuple) else ("sample_%03d" % n, trial)
                request = reconstruction_pb2.StreamReconstructRequest(include_pixels=True)
                if n == 0:
                    request.model = model
                    request.model_version = version
                request.sample.id = sample_id
                request.sample.betas.extend(_as_rows(betas)[0])
                yield request

        responses = self._reconstruction.StreamReconstruct(requests(), metadata=self._metadata)
        try:
            for response in responses:
                room.release()
                yield _result(response.result)
        except grpc.RpcError as e:
            raise Error(e.code(), e.details() or "", "StreamReconstruct") from None
        finally:
            stop.set()
            responses.cancel()

    # Models -----------------------------------------------------------------

    def models(self) -> List[models_pb2.Model]:
        """Every model the server holds (voxel2pixel.v1.Model messages)."""
        return list(self._call("ListModels", self._models.ListModels,
                               models_pb2.ListModelsRequest()).models)

    def model(self, name: str, version: int = 0) -> models_pb2.Model:
        return self._call("GetModel", self._models.GetModel,
                          models_pb2.GetModelRequest(name=name, version=version))

    # Datasets ---------------------------------------------------------------

    def upload_dataset(self, description: str, name: str = "",
                       data_root: Optional[str] = None) -> datasets_pb2.Dataset:
        """Uploads the file a dataset description (.pbtxt, as `v2p datasets
        upload --description`) names, in 1 MiB chunks with its SHA-256. A
        relative `file` is found beside the description, or under
        `data_root`. Returns the server's record (voxels, trials)."""
        with open(description) as f:
            parsed = text_format.Parse(f.read(), pipeline_spec_pb2.DatasetDescription())
        path = parsed.file
        if not os.path.isabs(path):
            path = os.path.join(data_root or os.path.dirname(os.path.abspath(description)), path)
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK_BYTES), b""):
                digest.update(block)
        header = datasets_pb2.UploadDatasetRequest.Header(
            name=name or parsed.name, description=parsed, total_bytes=os.path.getsize(path),
            sha256=digest.hexdigest())

        def parts():
            yield datasets_pb2.UploadDatasetRequest(header=header)
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(_CHUNK_BYTES), b""):
                    yield datasets_pb2.UploadDatasetRequest(chunk=block)

        return self._call("UploadDataset", self._datasets.UploadDataset, parts(),
                          timeout=max(self._timeout, 600))

    def datasets(self) -> List[datasets_pb2.Dataset]:
        return list(self._call("ListDatasets", self._datasets.ListDatasets,
                               datasets_pb2.ListDatasetsRequest()).datasets)

    def delete_dataset(self, name: str):
        self._call("DeleteDataset", self._datasets.DeleteDataset,
                   datasets_pb2.DeleteDatasetRequest(name=name))

    # Training ---------------------------------------------------------------

    def train(self, dataset: str, model: str, spec: str = "", wait: bool = True,
              progress=True, seed: int = 0,
              timeout: Optional[float] = None) -> Union[TrainingResult, Job]:
        """Submits a training job on an uploaded dataset. `spec` is a
        pipeline spec: a path to a .pbtxt or its text (empty: the server's
        default pipeline). With wait=True, follows the job (a progress bar on
        stderr, or on `progress` when it is a file; progress=False for none)
        and returns the new version, or raises JobFailed; otherwise returns
        the Job at once."""
        if spec and os.path.isfile(spec):
            with open(spec) as f:
                spec = f.read()
        request = training_pb2.CreateTrainingJobRequest(dataset=dataset, model=model,
                                                        pipeline_spec=spec, seed=seed)
        op = self._call("CreateTrainingJob", self._training.CreateTrainingJob, request)
        if not wait:
            return _job(op)
        return self.wait(op.name, progress=progress, timeout=timeout)

    def wait(self, job: str, progress=True, timeout: Optional[float] = None) -> TrainingResult:
        """Waits for a job to end (at most `timeout` seconds; None: no limit)
        and returns what it made, or raises JobFailed."""
        name = job if job.startswith("operations/") else "operations/" + job
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _ProgressBar(progress)
        try:
            while True:
                poll = 2.0 if deadline is None else max(0.0, min(2.0, deadline - time.monotonic()))
                request = operations_pb2.WaitOperationRequest(name=name)
                request.timeout.FromMilliseconds(int(poll * 1000))
                op = self._call("WaitOperation", self._operations.WaitOperation, request,
                                timeout=poll + 30)
                state = _job(op)
                bar.show(state)
                if state.done:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise Error(grpc.StatusCode.DEADLINE_EXCEEDED,
                                "%s still running after %g s" % (name, timeout), "wait")
        finally:
            bar.close()
        if state.error is not None:
            raise JobFailed(name, state.error.code, state.error.details)
        result = training_pb2.TrainingJobResult()
        op.response.Unpack(result)
        return TrainingResult(job=name, model=result.model, version=result.version,
                              metrics=dict(result.evaluation.metrics),
                              baseline_metrics=dict(result.evaluation.baseline_metrics))

    def jobs(self, filter: str = "") -> List[Job]:
        """This lab's jobs (all, for an admin), oldest first. `filter` as
        `v2p jobs list --filter`: e.g. "done=false", "model=NAME"."""
        jobs, token = [], ""
        while True:
            response = self._call("ListOperations", self._operations.ListOperations,
                                  operations_pb2.ListOperationsRequest(filter=filter,
                                                                       page_token=token))
            jobs.extend(_job(op) for op in response.operations)
            token = response.next_page_token
            if not token:
                return jobs

    def job(self, name: str) -> Job:
        name = name if name.startswith("operations/") else "operations/" + name
        return _job(self._call("GetOperation", self._operations.GetOperation,
                               operations_pb2.GetOperationRequest(name=name)))

    def cancel(self, job: str):
        name = job if job.startswith("operations/") else "operations/" + job
        self._call("CancelOperation", self._operations.CancelOperation,
                   operations_pb2.CancelOperationRequest(name=name))


def _as_rows(betas) -> np.ndarray:
    a = np.asarray(betas)
    if a.ndim == 1:
        a = a[np.newaxis, :]
    if a.ndim != 2:
        raise ValueError("betas must be trials x voxels (2-D) or one trial (1-D); got shape %s"
                         % (a.shape,))
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError("betas must be numbers; got %s" % a.dtype)
    return a.astype(np.float32, copy=False)


def _result(r) -> Result:
    image = _image(r.image, "result " + r.sample_id)
    timings = {s: _seconds(getattr(r.timings, s)) for s in _STAGES}
    return Result(sample_id=r.sample_id, image=image, png=r.image.png,
                  timings=timings, model=r.model, model_version=r.model_version)


def _image(image, what: str) -> np.ndarray:
    shape = (image.height, image.width)
    if image.channels > 1:
        shape += (image.channels,)
    pixels = np.array(image.pixels, dtype=np.float32)
    if pixels.size != int(np.prod(shape)):
        raise Error(grpc.StatusCode.DATA_LOSS, "%s has %d pixels for an image of %s" %
                    (what, pixels.size, shape), "Reconstruct")
    return pixels.reshape(shape)


def _progress(p) -> Progress:
    return Progress(iteration=p.iteration, sample_ids=[s.sample_id for s in p.samples],
                    loss=np.array([s.loss for s in p.samples]),
                    images=np.stack([_image(s.image, "progress of " + s.sample_id)
                                     for s in p.samples]))


def _job(op) -> Job:
    metadata = training_pb2.TrainingJobMetadata()
    op.metadata.Unpack(metadata)
    error, version = None, 0
    if op.done and op.HasField("error"):
        error = Error(_status_code(op.error.code), op.error.message, op.name)
    elif op.done:
        result = training_pb2.TrainingJobResult()
        op.response.Unpack(result)
        version = result.version
    return Job(name=op.name, done=op.done, phase=_PHASES.get(metadata.phase, "?"),
               model=metadata.model, dataset=metadata.dataset, step=metadata.step,
               total_steps=metadata.total_steps, loss=metadata.loss, owner=metadata.owner,
               error=error, version=version)


def _status_code(number: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


class _ProgressBar:
    """A job's progress on a tqdm bar (Debian python3-tqdm): the phase as its
    description, steps as its count, the loss after it."""

    def __init__(self, progress):
        self._out = None if progress is False else (sys.stderr if progress is True else progress)
        self._bar = None
        self._phase = None

    def show(self, job: Job):
        if self._out is None:
            return
        import tqdm  # only when a bar is shown
        if job.phase != self._phase or self._bar is None:
            if self._bar is not None:
                self._bar.close()
            self._phase = job.phase
            self._bar = tqdm.tqdm(total=job.total_steps or None, desc="%s %s" % (job.name, job.phase),
                                  file=self._out, leave=True, dynamic_ncols=True)
        if job.total_steps and self._bar.total != job.total_steps:
            self._bar.total = job.total_steps
        self._bar.n = job.step
        if job.loss:
            self._bar.set_postfix(loss="%.4g" % job.loss, refresh=False)
        self._bar.refresh()

    def close(self):
        if self._bar is not None:
            self._bar.close()
