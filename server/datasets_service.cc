#include "server/datasets_service.h"

#include <fstream>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "proto/rpc_status.h"
#include "spec/dataset_rules.h"
#include "store/names.h"
#include "store/sha256.h"

namespace v2p::server {
namespace {

namespace v1 = voxel2pixel::v1;

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

absl::Status DatasetsService::Receive(grpc::ServerContext* context,
                                      grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                      const store::DatasetStore::Staging& staging,
                                      v1::Dataset* record) {
  v1::UploadDatasetRequest msg;
  if (!reader->Read(&msg) || !msg.has_header()) {
    return absl::InvalidArgumentError("the first upload message must carry the header");
  }
  const v1::UploadDatasetRequest::Header h = msg.header();  // msg is reused for chunks
  if (absl::Status s = store::ValidateName(h.name(), "dataset name"); !s.ok()) return s;
  if (absl::Status s = spec::ValidateUploadedDescription(h.description()); !s.ok()) return s;
  if (datasets_->Exists(h.name())) {
    return absl::AlreadyExistsError(
        absl::StrCat("dataset '", h.name(), "' already exists; delete it first"));
  }
  if (h.total_bytes() <= 0) return absl::InvalidArgumentError("header: total_bytes must be > 0");
  if (h.total_bytes() > options_.max_upload_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("upload of ", h.total_bytes(),
                                                     " bytes exceeds the limit of ",
                                                     options_.max_upload_bytes, " bytes"));
  }
  const std::string declared = absl::AsciiStrToLower(h.sha256());
  if (!IsSha256Hex(declared)) {
    return absl::InvalidArgumentError("header: sha256 must be 64 hexadecimal characters");
  }
  std::ofstream out(staging.absolute + "/" + store::kDatasetDataFile, std::ios::binary);
  store::Sha256 hash;
  int64_t received = 0;
  while (reader->Read(&msg)) {
    Touch(context);
    if (!msg.has_chunk())
      return absl::InvalidArgumentError("only the first message may carry a header");
    received += static_cast<int64_t>(msg.chunk().size());
    if (received > h.total_bytes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("received more than the declared ", h.total_bytes(), " bytes"));
    }
    hash.Update(msg.chunk());
    out.write(msg.chunk().data(), static_cast<std::streamsize>(msg.chunk().size()));
  }
  Touch(context, /*reading=*/false);
  out.close();
  if (TimedOut(context))
    return absl::DeadlineExceededError(
        absl::StrCat("upload sent nothing for ", absl::FormatDuration(options_.upload_idle_timeout),
                     "; cancelled (--upload_idle_timeout_s)"));
  if (context->IsCancelled()) return absl::CancelledError("upload cancelled by the client");
  if (!out) return absl::InternalError("cannot write the uploaded file");
  if (received != h.total_bytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("upload ended after ", received, " of ", h.total_bytes(), " declared bytes"));
  }
  const std::string actual = hash.HexDigest();
  if (actual != declared) {
    return absl::InvalidArgumentError(
        absl::StrCat("sha256 mismatch: declared ", declared, ", received bytes hash to ", actual));
  }
  voxel2pixel::worker::v1::ValidateDatasetRequest check;
  check.set_directory(staging.relative);
  *check.mutable_description() = h.description();
  voxel2pixel::worker::v1::ValidateDatasetResponse shape;
  const grpc::Status valid = dispatcher_->Run(context, [&](auto& stub, grpc::ClientContext& ctx) {
    return stub.ValidateDataset(&ctx, check, &shape);
  });
  if (!valid.ok()) return FromGrpcStatus(valid);

  record->set_name(h.name());
  *record->mutable_description() = h.description();
  record->mutable_description()->set_file(store::kDatasetDataFile);
  record->set_total_bytes(received);
  record->set_sha256(actual);
  *record->mutable_create_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  record->set_num_voxels(shape.num_voxels());
  record->set_num_train(shape.num_train());
  record->set_num_test(shape.num_test());
  return absl::OkStatus();
}

DatasetsService::DatasetsService(store::DatasetStore* datasets, const Dispatcher* dispatcher,
                                 Options options)
    : datasets_(datasets), dispatcher_(dispatcher), options_(options) {
  watchdog_ = std::thread([this] { Watch(); });
}

DatasetsService::~DatasetsService() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  watchdog_.join();
}

bool DatasetsService::Admit(grpc::ServerContext* context) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(active_.size()) >= options_.max_concurrent_uploads) return false;
  active_[context] = Active{absl::Now()};
  return true;
}

void DatasetsService::Forget(grpc::ServerContext* context) {
  absl::MutexLock lock(&mu_);
  active_.erase(context);
}

void DatasetsService::Touch(grpc::ServerContext* context, bool reading) {
  absl::MutexLock lock(&mu_);
  if (auto it = active_.find(context); it != active_.end()) {
    it->second.last_message = absl::Now();
    it->second.reading = reading;
  }
}

bool DatasetsService::TimedOut(grpc::ServerContext* context) {
  absl::MutexLock lock(&mu_);
  auto it = active_.find(context);
  return it != active_.end() && it->second.timed_out;
}

void DatasetsService::Watch() {
  const absl::Duration tick = std::min(
      absl::Seconds(1), std::max(absl::Milliseconds(10), options_.upload_idle_timeout / 4));
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), tick);
    const absl::Time now = absl::Now();
    for (auto& [context, upload] : active_) {
      if (!upload.reading || upload.timed_out ||
          now - upload.last_message < options_.upload_idle_timeout)
        continue;
      upload.timed_out = true;
      context->TryCancel();  // the blocked Read returns; the staging is removed
    }
  }
}

grpc::Status DatasetsService::UploadDataset(grpc::ServerContext* context,
                                            grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                            v1::Dataset* response) {
  auto caller = Identify(options_.auth, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  std::unique_ptr<CallerLimits::Place> place;
  if (options_.limits != nullptr) {
    auto taken = options_.limits->Take(CallerLimits::kUpload, *caller, context);
    if (!taken.ok()) return ToGrpcStatus(taken.status());
    place = *std::move(taken);
  }
  if (!Admit(context)) {
    // gRPC's retry pushback: a client with retries configured waits this long.
    context->AddTrailingMetadata("grpc-retry-pushback-ms", "1000");
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat(options_.max_concurrent_uploads,
                                     " uploads are in progress, the server's limit "
                                     "(--max_concurrent_uploads); retry when one ends"));
  }
  auto staging = datasets_->BeginUpload();
  absl::Status s = staging.status();
  if (s.ok()) {
    s = Receive(context, reader, *staging, response);
    response->set_owner(caller->lab);
    if (!s.ok()) {
      datasets_->Abort(*staging);
    } else {
      s = datasets_->Commit(*staging, *response);
    }
  }
  Forget(context);
  return ToGrpcStatus(s);
}

grpc::Status DatasetsService::ListDatasets(grpc::ServerContext* context,
                                           const v1::ListDatasetsRequest*,
                                           v1::ListDatasetsResponse* response) {
  auto caller = Identify(options_.auth, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // A lab sees its own datasets (betas are its subjects' data) and those no
  // lab holds; admins see all.
  for (auto& d : datasets_->List()) {
    if (caller->MayUseDataset(d.owner())) *response->add_datasets() = std::move(d);
  }
  return grpc::Status::OK;
}

grpc::Status DatasetsService::GetDataset(grpc::ServerContext* context,
                                         const v1::GetDatasetRequest* request,
                                         v1::Dataset* response) {
  auto caller = Identify(options_.auth, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto d = datasets_->Get(request->name());
  if (!d.ok()) return ToGrpcStatus(d.status());
  if (absl::Status s = CheckDatasetUse(*caller, d->owner(), request->name()); !s.ok())
    return ToGrpcStatus(s);
  *response = *std::move(d);
  return grpc::Status::OK;
}

grpc::Status DatasetsService::DeleteDataset(grpc::ServerContext* context,
                                            const v1::DeleteDatasetRequest* request,
                                            google::protobuf::Empty*) {
  auto caller = Identify(options_.auth, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = store::ValidateName(request->name(), "dataset name"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto dataset = datasets_->Get(request->name());
  if (!dataset.ok()) return ToGrpcStatus(dataset.status());
  if (absl::Status s =
          CheckOwner(*caller, dataset->owner(), absl::StrCat("dataset '", request->name(), "'"));
      !s.ok())
    return ToGrpcStatus(s);
  return ToGrpcStatus(datasets_->Delete(request->name()));
}

}  // namespace v2p::server
