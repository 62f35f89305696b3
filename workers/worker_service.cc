#include "workers/worker_service.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <utility>

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

grpc::ServerUnaryReactor* WorkerService::Reconstruct(grpc::CallbackServerContext* context,
                                                     const v1::ReconstructRequest* request,
                                                     v1::ReconstructResponse* response) {
  const core::Stopwatch received;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::shared_ptr<const core::Pipeline> pipeline =
      registry_->GetIfLoaded(request->model(), request->model_version());
  if (pipeline != nullptr) {
    Submit(context, request, response, reactor, std::move(pipeline), received, false);
  } else {
    LoadThenSubmit(context, request, response, reactor, received, false);
  }
  return reactor;
}

void WorkerService::LoadThenSubmit(grpc::CallbackServerContext* context,
                                   const v1::ReconstructRequest* request,
                                   v1::ReconstructResponse* response,
                                   grpc::ServerUnaryReactor* reactor, core::Stopwatch received,
                                   bool is_retry) {
  // Loading takes from a fraction of a second to minutes (or fails with
  // NOT_FOUND): never on gRPC's callback threads. The server waits for
  // every call to be finished before the service goes away.
  std::thread([this, context, request, response, reactor, received, is_retry] {
    auto loaded = registry_->Get(request->model(), request->model_version());
    if (!loaded.ok()) {
      reactor->Finish(ToGrpcStatus(loaded.status()));
      return;
    }
    Submit(context, request, response, reactor, *std::move(loaded), received, is_retry);
  }).detach();
}

void WorkerService::Submit(grpc::CallbackServerContext* context,
                           const v1::ReconstructRequest* request, v1::ReconstructResponse* response,
                           grpc::ServerUnaryReactor* reactor,
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
  if (!valid.ok()) {
    reactor->Finish(ToGrpcStatus(valid));
    return;
  }
  const absl::Duration before_queue = received.Elapsed();
  Batcher::Work work;
  work.betas = *std::move(betas);
  work.is_cancelled = [context] { return context->IsCancelled(); };
  work.num_samples = request->num_samples();
  work.sample_seed = request->sample_seed();
  work.attention = request->include_attention();
  work.refine_iterations = request->refine_iterations();
  if (request->partial_results()) work.stop_refining = StopBeforeDeadline(context->deadline());
  batcher_->Submit(pipeline, std::move(work),
                   [this, context, request, response, reactor, pipeline, before_queue, received,
                    is_retry](Batcher::Result recs) {
                     if (recs.status().code() == absl::StatusCode::kAborted && !is_retry) {
                       // Raced UnloadModel: the model loads again.
                       LoadThenSubmit(context, request, response, reactor, received, true);
                       return;
                     }
                     if (recs.ok()) {
                       Answer(*request, *pipeline, *std::move(recs), before_queue, received,
                              response);
                     }
                     reactor->Finish(ToGrpcStatus(recs.status()));
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
    if (!recs.empty() && recs.front().refine_iterations > 0)
      metrics_->RecordRefineIterations(request.model(), recs.front().refine_iterations);
    const StageHistograms& stages = metrics_->ForModel(request.model());
    for (auto& r : recs) {
      r.timings.total = elapsed;
      stages.Observe(r.timings);
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
