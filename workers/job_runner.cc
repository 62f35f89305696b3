#include "workers/job_runner.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/data/dataset.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/trainer.h"
#include "proto/rpc_status.h"
#include "workers/conversions.h"
#include "workers/repository_paths.h"
#include "workers/spec_files.h"

namespace v2p::worker {
namespace {

namespace v1 = voxel2pixel::v1;
using google::longrunning::Operation;
using google::protobuf::util::TimeUtil;

// A dataset uploaded to the repository, as the gateway recorded it.
absl::StatusOr<core::Dataset> LoadUploadedDataset(const store::DatasetStore& datasets,
                                                  const std::string& repository,
                                                  const std::string& name) {
  ASSIGN_OR_RETURN(const v1::Dataset record, datasets.GetVerified(name));
  v1::DatasetDescription description = record.description();
  description.set_file(store::kDatasetDataFile);
  ASSIGN_OR_RETURN(
      core::DatasetOptions options,
      ToDatasetOptions(description, repository + "/" + store::DatasetStore::RelativeDir(name)));
  options.uploaded = true;
  return core::LoadDataset(options);
}

google::protobuf::Timestamp Now() {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
}

v1::TrainingJobMetadata::Phase ToPhase(core::TrainingProgress::Phase p) {
  switch (p) {
    case core::TrainingProgress::Phase::kFitting:
      return v1::TrainingJobMetadata::FITTING;
    case core::TrainingProgress::Phase::kTrainingGenerator:
      return v1::TrainingJobMetadata::TRAINING_GENERATOR;
    case core::TrainingProgress::Phase::kEvaluating:
      return v1::TrainingJobMetadata::EVALUATING;
    case core::TrainingProgress::Phase::kSaving:
      return v1::TrainingJobMetadata::SAVING;
  }
  return v1::TrainingJobMetadata::PHASE_UNSPECIFIED;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobRunner>> JobRunner::Create(Options options) {
  if (options.owner.empty()) options.owner = store::OperationStore::ThisProcessOwner();
  std::unique_ptr<JobRunner> r(new JobRunner(std::move(options)));
  ASSIGN_OR_RETURN(r->operations_, store::OperationStore::Open(r->options_.repository));
  ASSIGN_OR_RETURN(r->datasets_, store::DatasetStore::Open(r->options_.repository));
  r->scheduler_ = std::thread(&JobRunner::Schedule, r.get());
  return r;
}

JobRunner::~JobRunner() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stop_jobs_ = true;
  scheduler_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [id, r] : running_) r->thread.join();
}

void JobRunner::Schedule() {
  const absl::Duration renew_every = options_.lease_ttl / 3;
  absl::Time last_renew = absl::InfinitePast();
  while (true) {
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll_interval)) return;
    // Reap finished jobs.
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->finished) {
        it->second->thread.join();
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
    if (absl::Now() - last_renew >= renew_every) {
      for (auto& [id, r] : running_) {
        if (!operations_->Renew(id, options_.owner, options_.lease_ttl).ok()) {
          core::LogWarning("jobs", "lost the lease of operations/", id, "; stopping it here");
          r->lost = true;
        }
      }
      last_renew = absl::Now();
    }
    if (static_cast<int>(running_.size()) >= options_.max_concurrent_jobs) continue;
    for (const std::string& id : operations_->ListIds()) {
      if (running_.count(id)) continue;
      auto op = operations_->Get(id);
      if (!op.ok() || op->done()) continue;
      auto claimed = operations_->TryClaim(id, options_.owner, options_.lease_ttl);
      if (!claimed.ok() || !*claimed) continue;
      auto r = std::make_unique<Running>();
      Running* raw = r.get();
      r->thread = std::thread(&JobRunner::RunJob, this, id, raw);
      running_[id] = std::move(r);
      if (static_cast<int>(running_.size()) >= options_.max_concurrent_jobs) break;
    }
  }
}

void JobRunner::ReleaseLease(const std::string& id) {
  if (absl::Status s = operations_->Release(id, options_.owner); !s.ok())
    core::LogWarning("jobs", "operations/", id, ": ", s.ToString(),
                     " (another worker takes the job over once the lease expires)");
}

void JobRunner::RunJob(const std::string& id, Running* running) {
  auto op = operations_->Get(id);
  if (!op.ok()) {
    core::LogError("jobs", "operations/", id, ": ", op.status().ToString());
    ReleaseLease(id);
    running->finished = true;
    return;
  }
  const absl::Status status = Train(id, running, &*op);
  const bool user_cancel = operations_->CancelRequested(id);
  if (running->lost) {
    // Another worker owns the job now; it writes the outcome.
  } else if (absl::IsCancelled(status) && !user_cancel && stop_jobs_) {
    core::LogInfo("jobs", "operations/", id, " paused for shutdown; its checkpoints stay");
    ReleaseLease(id);
  } else {
    v1::TrainingJobMetadata meta = store::GetMetadata(*op);
    meta.set_phase(v1::TrainingJobMetadata::DONE);
    *meta.mutable_update_time() = Now();
    meta.clear_estimated_time_left();
    store::SetMetadata(meta, &*op);
    op->set_done(true);
    if (!status.ok()) {
      op->clear_response();
      op->mutable_error()->set_code(static_cast<int>(status.code()));
      // Paths as the repository names them: the client never sees where
      // the repository lies on this machine.
      op->mutable_error()->set_message(RelativeToRepository(status.message(), options_.repository));
    }
    if (absl::Status s = operations_->Write(id, *op); !s.ok()) {
      core::LogError("jobs", "cannot record the outcome of operations/", id, ": ", s.ToString());
    }
    ReleaseLease(id);
    core::LogInfo("jobs", "operations/", id, " done: ", status.ok() ? "OK" : status.ToString());
  }
  running->finished = true;
}

absl::Status JobRunner::Train(const std::string& id, Running* running, Operation* op) {
  v1::TrainingJobMetadata meta = store::GetMetadata(*op);
  const absl::Time attempt_start = absl::Now();
  meta.set_attempts(meta.attempts() + 1);
  meta.set_worker(options_.owner);
  if (!meta.has_start_time()) *meta.mutable_start_time() = Now();
  meta.set_phase(v1::TrainingJobMetadata::LOADING_DATA);
  auto write = [&]() {
    if (running->lost) return;
    *meta.mutable_update_time() = Now();
    store::SetMetadata(meta, op);
    if (absl::Status s = operations_->Write(id, *op); !s.ok()) {
      core::LogWarning("jobs", "operations/", id, ": ", s.ToString());
    }
  };
  write();
  core::LogInfo("jobs", "running operations/", id, " (attempt ", meta.attempts(), ")");
  if (operations_->CancelRequested(id)) return absl::CancelledError("cancelled before it started");

  ASSIGN_OR_RETURN(const v1::CreateTrainingJobRequest request, operations_->GetRequest(id));
  // The method first: a spec this worker cannot build fails before the
  // dataset is read.
  core::TrainRequest train;
  train.model_name = request.model();
  ASSIGN_OR_RETURN(const v1::PipelineSpec spec, ParsePipelineSpec(request.pipeline_spec()));
  RETURN_IF_ERROR(ToTrainRequest(spec, &train));
  ASSIGN_OR_RETURN(const core::Dataset dataset,
                   LoadUploadedDataset(*datasets_, options_.repository, request.dataset()));
  ASSIGN_OR_RETURN(auto repository, core::ModelRepository::Open({options_.repository, true}));
  train.spec_text = request.pipeline_spec();
  train.validation_split = request.validation_split();
  train.seed = request.seed();
  core::TrainHooks hooks;
  hooks.checkpoint_dir = operations_->CheckpointDir(id);
  hooks.is_cancelled = [&] {
    return running->lost || stop_jobs_ || operations_->CancelRequested(id);
  };
  hooks.before_commit = [&] { return operations_->Renew(id, options_.owner, options_.lease_ttl); };
  // Steps are counted per phase (the fit's targets, then the generator's
  // epochs), so the estimate uses the time since the phase began.
  absl::Time phase_start = attempt_start;
  core::TrainingProgress::Phase last_phase = core::TrainingProgress::Phase::kFitting;
  hooks.on_progress = [&](const core::TrainingProgress& p) {
    meta.set_phase(ToPhase(p.phase));
    if (p.phase != last_phase) {
      last_phase = p.phase;
      phase_start = absl::Now();
    }
    if (p.phase == core::TrainingProgress::Phase::kFitting ||
        p.phase == core::TrainingProgress::Phase::kTrainingGenerator) {
      meta.set_step(p.step);
      meta.set_total_steps(p.total_steps);
      meta.set_loss(p.loss);
      meta.set_resumed_from_step(p.resumed_from_step);
      const int64_t done_here = p.step - p.resumed_from_step;
      if (done_here > 0) {
        const absl::Duration per_step = (absl::Now() - phase_start) / done_here;
        ToDurationProto(per_step * (p.total_steps - p.step), meta.mutable_estimated_time_left());
      }
    } else {
      meta.clear_estimated_time_left();
    }
    meta.set_cancel_requested(operations_->CancelRequested(id));
    write();
  };
  ASSIGN_OR_RETURN(const core::ModelManifest manifest,
                   core::TrainModel(dataset, train, *repository, hooks));
  v1::TrainingJobResult result;
  result.set_model(manifest.name);
  result.set_version(manifest.version);
  ToEvaluationProto(manifest.evaluation, result.mutable_evaluation());
  op->mutable_response()->PackFrom(result);
  return absl::OkStatus();
}

}  // namespace v2p::worker
