#include "workers/worker_service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "proto/rpc_status.h"
#include "store/dataset_store.h"
#include "workers/conversions.h"
#include "workers/spec_files.h"

namespace v2p::worker {
namespace {

// For partial results: fires once a quarter of the time left now (at most
// 100 ms) remains before `deadline`, so that the images so far can still
// reach the caller; never for a call without a deadline.
std::function<bool()> StopBeforeDeadline(std::chrono::system_clock::time_point deadline) {
  const auto now = std::chrono::system_clock::now();
  if (deadline == std::chrono::system_clock::time_point::max()) return [] { return false; };
  const auto left = deadline > now ? deadline - now : std::chrono::system_clock::duration::zero();
  const auto margin =
      std::min<std::chrono::system_clock::duration>(left / 4, std::chrono::milliseconds(100));
  const auto stop_at = deadline - margin;
  return [stop_at] { return std::chrono::system_clock::now() >= stop_at; };
}

}  // namespace

namespace v1 = voxel2pixel::v1;

// How one call is answered. Done is called exactly once; the reply is not
// touched after it.
class WorkerService::Reply {
 public:
  virtual ~Reply() = default;
  virtual v1::ReconstructResponse* response() = 0;
  // Whether the call takes the refiner's progress, and that progress, on
  // the batch thread, while the pipeline runs (before Done).
  virtual bool wants_progress() const { return false; }
  virtual void Progress(int /*iteration*/, const Eigen::VectorXd& /*loss*/,
                        const Eigen::MatrixXf& /*images*/,
                        const core::ModelManifest& /*manifest*/) {}
  // Whether the call gave up on the work (the refiner then stops, as for a
  // cancel); the batch thread asks while the pipeline runs.
  virtual bool abandoned() const { return false; }
  // Ends the call, with the response when `status` is OK.
  virtual void Done(const grpc::Status& status) = 0;
};

class WorkerService::UnaryReply final : public Reply {
 public:
  UnaryReply(grpc::ServerUnaryReactor* reactor, v1::ReconstructResponse* response)
      : reactor_(reactor), response_(response) {}
  v1::ReconstructResponse* response() override { return response_; }
  void Done(const grpc::Status& status) override {
    reactor_->Finish(status);
    delete this;
  }

 private:
  grpc::ServerUnaryReactor* const reactor_;
  v1::ReconstructResponse* const response_;
};

// The writes of one ReconstructWithProgress: a queue of at most kMaxPending
// messages, written one at a time. Progress waits for room (the caller's
// reading paces the refiner; a cancel or a failed write frees it); after
// `stall` without room the call is abandoned with RESOURCE_EXHAUSTED. Done
// queues the response, or drops what is queued on an error, and the call
// finishes once the write in progress is done. What to start is decided
// under mu_ and started without it: gRPC may run a reaction inline.
class WorkerService::ProgressStream final
    : public grpc::ServerWriteReactor<v1::ReconstructProgress>,
      public Reply {
 public:
  static constexpr size_t kMaxPending = 4;

  ProgressStream(const v1::ReconstructRequest* request, absl::Duration stall,
                 WorkerMetrics* metrics)
      : request_(request), stall_(absl::ToChronoNanoseconds(stall)), metrics_(metrics) {}

  v1::ReconstructResponse* response() override { return &response_; }
  bool wants_progress() const override { return true; }
  bool abandoned() const override { return abandoned_; }

  void Progress(int iteration, const Eigen::VectorXd& loss, const Eigen::MatrixXf& images,
                const core::ModelManifest& manifest) override {
    v1::ReconstructProgress message;
    absl::Status made =
        ToProgressProto(iteration, loss, images, *request_, manifest, message.mutable_progress());
    std::unique_lock<std::mutex> lock(mu_);
    if (abandoned_) return;
    if (!made.ok()) {
      Abandon(ToGrpcStatus(made));
      return;
    }
    if (!room_.wait_for(lock, stall_,
                        [this] { return pending_.size() < kMaxPending || stopped_; })) {
      Abandon(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                           absl::StrCat("the caller took no progress message for ",
                                        absl::FormatDuration(absl::FromChrono(stall_)),
                                        "; the refinement was stopped at iteration ", iteration)));
      if (metrics_ != nullptr) metrics_->RecordProgressStall();
      return;
    }
    if (stopped_) return;
    pending_.push_back(std::move(message));
    const Step step = Plan();
    lock.unlock();
    Act(step);
  }

  void Done(const grpc::Status& status) override {
    std::unique_lock<std::mutex> lock(mu_);
    status_ = failed_.ok() ? status : failed_;
    if (status_.ok() && !stopped_) {
      v1::ReconstructProgress last;
      *last.mutable_response() = std::move(response_);
      pending_.push_back(std::move(last));
    } else {
      DropQueued();
    }
    done_ = true;
    const Step step = Plan();
    lock.unlock();
    Act(step);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    pending_.pop_front();
    if (!ok) {
      stopped_ = true;
      DropQueued();
    }
    room_.notify_all();
    const Step step = Plan();
    lock.unlock();
    Act(step);
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    room_.notify_all();
  }

  void OnDone() override { delete this; }

 private:
  struct Step {
    const v1::ReconstructProgress* write = nullptr;
    bool finish = false;
    grpc::Status status;
  };

  // Gives up on the work (the refiner stops) and ends with `why`.
  void Abandon(grpc::Status why) {
    if (failed_.ok()) failed_ = std::move(why);
    abandoned_ = true;
  }

  // Drops what waits behind the write in progress.
  void DropQueued() {
    while (pending_.size() > (writing_ ? 1u : 0u)) pending_.pop_back();
  }

  Step Plan() {
    Step step;
    if (writing_) return step;
    if (!pending_.empty()) {
      writing_ = true;
      step.write = &pending_.front();  // a deque keeps it in place
    } else if (done_ && !finished_) {
      finished_ = true;
      step.finish = true;
      step.status = status_;
    }
    return step;
  }

  void Act(const Step& step) {
    if (step.write != nullptr) StartWrite(step.write);
    if (step.finish) Finish(step.status);
  }

  const v1::ReconstructRequest* const request_;
  const std::chrono::nanoseconds stall_;
  WorkerMetrics* const metrics_;  // may be null
  std::atomic<bool> abandoned_{false};
  v1::ReconstructResponse response_;
  std::mutex mu_;
  std::condition_variable room_;
  std::deque<v1::ReconstructProgress> pending_;  // front: the write in progress
  bool writing_ = false;
  bool stopped_ = false;  // cancelled, or a write failed
  bool done_ = false;
  bool finished_ = false;
  grpc::Status failed_;  // why the call was abandoned
  grpc::Status status_;
};

grpc::ServerUnaryReactor* WorkerService::Reconstruct(grpc::CallbackServerContext* context,
                                                     const v1::ReconstructRequest* request,
                                                     v1::ReconstructResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Start(context, request, new UnaryReply(reactor, response));
  return reactor;
}

grpc::ServerWriteReactor<v1::ReconstructProgress>* WorkerService::ReconstructWithProgress(
    grpc::CallbackServerContext* context, const v1::ReconstructRequest* request) {
  auto* stream = new ProgressStream(request, options_.progress_stall, metrics_);
  Start(context, request, stream);
  return stream;
}

void WorkerService::Start(grpc::CallbackServerContext* context,
                          const v1::ReconstructRequest* request, Reply* reply) {
  const core::Stopwatch received;
  std::shared_ptr<const core::Pipeline> pipeline =
      registry_->GetIfLoaded(request->model(), request->model_version());
  if (pipeline != nullptr) {
    Submit(context, request, reply, std::move(pipeline), received, false);
  } else {
    LoadThenSubmit(context, request, reply, received, false);
  }
}

void WorkerService::LoadThenSubmit(grpc::CallbackServerContext* context,
                                   const v1::ReconstructRequest* request, Reply* reply,
                                   core::Stopwatch received, bool is_retry) {
  // Loading takes from a fraction of a second to minutes (or fails with
  // NOT_FOUND): never on gRPC's callback threads. The server waits for
  // every call to be finished before the service goes away.
  std::thread([this, context, request, reply, received, is_retry] {
    auto loaded = registry_->Get(request->model(), request->model_version());
    if (!loaded.ok()) {
      reply->Done(ToGrpcStatus(loaded.status()));
      return;
    }
    Submit(context, request, reply, *std::move(loaded), received, is_retry);
  }).detach();
}

namespace {

// What a request asks beyond its samples that the pipeline cannot check:
// progress only on the progress stream, and there at an interval.
absl::Status CheckProgressAsked(const v1::ReconstructRequest& request, bool streamed) {
  if (!streamed && request.progress_every() != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("progress_every is ", request.progress_every(),
                     "; progress is sent only by ReconstructWithProgress: leave it 0 here"));
  if (streamed && request.progress_every() < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("progress_every is ", request.progress_every(),
                     "; ReconstructWithProgress needs the iterations between messages, 1 or more"));
  return absl::OkStatus();
}

}  // namespace

void WorkerService::Submit(grpc::CallbackServerContext* context,
                           const v1::ReconstructRequest* request, Reply* reply,
                           std::shared_ptr<const core::Pipeline> pipeline, core::Stopwatch received,
                           bool is_retry) {
  absl::StatusOr<Eigen::MatrixXf> betas =
      SamplesToBetas(request->samples(), pipeline->num_voxels(), request->model());
  // Checked here, per request: a bad sample must not fail the other
  // requests it would share a batch with.
  absl::Status valid = betas.ok() ? core::CheckFiniteRows(*betas) : betas.status();
  if (valid.ok() && request->include_attention() && !pipeline->gives_attention()) {
    valid = absl::InvalidArgumentError(absl::StrCat(
        "model ", request->model(), " decodes no attention map (only ",
        "foreground-attention models, method fattention, do); leave ", "include_attention unset"));
  }
  if (valid.ok()) valid = CheckProgressAsked(*request, reply->wants_progress());
  if (!valid.ok()) {
    reply->Done(ToGrpcStatus(valid));
    return;
  }
  const absl::Duration before_queue = received.Elapsed();
  Batcher::Work work;
  work.betas = *std::move(betas);
  work.is_cancelled = [context, reply] { return context->IsCancelled() || reply->abandoned(); };
  work.num_samples = request->num_samples();
  work.sample_seed = request->sample_seed();
  work.attention = request->include_attention();
  work.refine_iterations = request->refine_iterations();
  if (request->partial_results()) work.stop_refining = StopBeforeDeadline(context->deadline());
  if (reply->wants_progress()) {
    work.progress_every = request->progress_every();
    // The batcher holds the pipeline while it runs.
    work.on_progress = [reply, manifest = &pipeline->manifest()](int iteration,
                                                                 const Eigen::VectorXd& loss,
                                                                 const Eigen::MatrixXf& images) {
      reply->Progress(iteration, loss, images, *manifest);
    };
  }
  batcher_->Submit(pipeline, std::move(work),
                   [this, context, request, reply, pipeline, before_queue, received,
                    is_retry](Batcher::Result recs) {
                     if (recs.status().code() == absl::StatusCode::kAborted && !is_retry) {
                       // Raced UnloadModel: the model loads again.
                       LoadThenSubmit(context, request, reply, received, true);
                       return;
                     }
                     if (recs.ok()) {
                       Answer(*request, *pipeline, *std::move(recs), before_queue, received,
                              reply->response());
                     }
                     reply->Done(ToGrpcStatus(recs.status()));
                   });
}

void WorkerService::Answer(const v1::ReconstructRequest& request, const core::Pipeline& pipeline,
                           std::vector<core::Reconstruction> recs, absl::Duration before_queue,
                           const core::Stopwatch& received,
                           v1::ReconstructResponse* response) const {
  for (size_t i = 0; i < recs.size(); ++i) {
    recs[i].timings.queue += before_queue;
    auto* result = response->add_results();
    result->set_sample_id(request.samples(static_cast<int>(i)).id());
    ToResultProto(recs[i], pipeline.manifest(), request.include_pixels(), result);
  }
  const absl::Duration elapsed = received.Elapsed();
  for (auto& r : *response->mutable_results())
    ToDurationProto(elapsed, r.mutable_timings()->mutable_total());
  if (metrics_ != nullptr) {
    const ModelMetrics& model_metrics = metrics_->ForModel(request.model());
    if (!recs.empty() && recs.front().refine_iterations > 0)
      model_metrics.CountRefineIterations(recs.front().refine_iterations);
    for (auto& r : recs) {
      r.timings.total = elapsed;
      model_metrics.Observe(r.timings);
    }
  }
}

grpc::Status WorkerService::ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                                       v1::ListModelsResponse* response) {
  for (const auto& info : registry_->DescribeAll()) ToModelProto(info, response->add_models());
  return grpc::Status::OK;
}

grpc::Status WorkerService::GetModel(grpc::ServerContext*, const v1::GetModelRequest* request,
                                     v1::Model* response) {
  auto info = registry_->Describe(request->name(), request->version());
  if (!info.ok()) return ToGrpcStatus(info.status());
  ToModelProto(*info, response);
  return grpc::Status::OK;
}

grpc::Status WorkerService::LoadModel(grpc::ServerContext*, const v1::LoadModelRequest* request,
                                      v1::Model* response) {
  auto pipeline = registry_->Get(request->name(), request->version());
  if (!pipeline.ok()) return ToGrpcStatus(pipeline.status());
  auto info = registry_->Describe(request->name(), (*pipeline)->manifest().version);
  if (!info.ok()) return ToGrpcStatus(info.status());
  ToModelProto(*info, response);
  return grpc::Status::OK;
}

grpc::Status WorkerService::UnloadModel(grpc::ServerContext*, const v1::UnloadModelRequest* request,
                                        google::protobuf::Empty*) {
  registry_->Unload(request->name(), request->version());  // the batcher releases them
  return grpc::Status::OK;
}

grpc::Status WorkerService::ValidateDataset(
    grpc::ServerContext*, const voxel2pixel::worker::v1::ValidateDatasetRequest* request,
    voxel2pixel::worker::v1::ValidateDatasetResponse* response) {
  // The directory comes from the gateway's own staging area; refuse
  // anything that could leave the repository all the same.
  if (request->directory().empty() || request->directory()[0] == '/' ||
      request->directory().find("..") != std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "dataset directory must be relative to the repository");
  }
  v1::DatasetDescription description = request->description();
  description.set_file(store::kDatasetDataFile);
  auto options =
      ToDatasetOptions(description, registry_->repository().root() + "/" + request->directory());
  if (!options.ok()) return ToGrpcStatus(options.status());
  options->uploaded = true;
  auto dataset = core::LoadDataset(*options);
  if (!dataset.ok()) {
    // A variable the description names but the file lacks is the
    // uploader's mistake, not a missing resource on our side.
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(dataset.status().message()));
  }
  response->set_num_voxels(static_cast<int>(dataset->train.betas.cols()));
  response->set_num_train(static_cast<int>(dataset->train.betas.rows()));
  response->set_num_test(static_cast<int>(dataset->test.betas.rows()));
  return grpc::Status::OK;
}

grpc::Status WorkerService::GetWorkerInfo(grpc::ServerContext*,
                                          const voxel2pixel::worker::v1::GetWorkerInfoRequest*,
                                          voxel2pixel::worker::v1::WorkerInfo* response) {
  response->set_device(options_.device);
  response->set_pid(getpid());
  response->set_repository(registry_->repository().root());
  for (const auto& m : registry_->Loaded()) response->add_loaded_models(m);
  return grpc::Status::OK;
}

}  // namespace v2p::worker
