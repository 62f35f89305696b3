#include "client/remote_commands.h"
#include "core/base/files.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/dataset_bundle.h"
#include "client/output_files.h"
#include "client/rpc_helpers.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "proto/rpc_status.h"
#include "spec/spec_files.h"
#include "store/sha256.h"
#include "voxel2pixel/v1/datasets_service.grpc.pb.h"
#include "voxel2pixel/v1/training_service.grpc.pb.h"

namespace v2p::client {
namespace {

namespace v1 = voxel2pixel::v1;
namespace lro = google::longrunning;
using google::protobuf::util::TimeUtil;

constexpr size_t kChunkBytes = 1 << 20;

std::string OperationName(const std::string& name) {
  return absl::StartsWith(name, "operations/") ? name : "operations/" + name;
}

std::string PhaseName(v1::TrainingJobMetadata::Phase p) {
  return v1::TrainingJobMetadata::Phase_Name(p);
}

// One line describing an operation's state.
std::string Describe(const lro::Operation& op) {
  v1::TrainingJobMetadata m;
  op.metadata().UnpackTo(&m);
  std::string out =
      absl::StrFormat("%s  %-10s model=%s dataset=%s step %d/%d", op.name(), PhaseName(m.phase()),
                      m.model(), m.dataset(), m.step(), m.total_steps());
  if (m.loss() != 0) absl::StrAppendFormat(&out, " loss %.5g", m.loss());
  if (m.has_estimated_time_left()) {
    absl::StrAppendFormat(&out, " ETA %.0fs",
                          absl::ToDoubleSeconds(FromDurationProto(m.estimated_time_left())));
  }
  if (m.attempts() > 1) {
    absl::StrAppendFormat(&out, " (attempt %d, resumed from step %d)", m.attempts(),
                          m.resumed_from_step());
  }
  if (op.done()) {
    if (op.has_error()) {
      absl::StrAppendFormat(
          &out, "  FAILED %s: %s",
          absl::StatusCodeToString(static_cast<absl::StatusCode>(op.error().code())),
          op.error().message());
    } else {
      v1::TrainingJobResult r;
      op.response().UnpackTo(&r);
      absl::StrAppendFormat(&out, "  -> %s v%d", r.model(), r.version());
    }
  }
  return out;
}

// A bar on a terminal, plain lines (one per change) otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(fileno(stdout))) {}
  void Show(const lro::Operation& op) {
    v1::TrainingJobMetadata m;
    op.metadata().UnpackTo(&m);
    if (!tty_) {
      const std::string line = Describe(op);
      if (line != last_) std::printf("%s\n", line.c_str());
      last_ = line;
      return;
    }
    const int width = 30;
    const int filled =
        m.total_steps() > 0 ? static_cast<int>(width * m.step() / m.total_steps()) : 0;
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    std::string eta =
        m.has_estimated_time_left()
            ? absl::StrFormat("ETA %.0fs",
                              absl::ToDoubleSeconds(FromDurationProto(m.estimated_time_left())))
            : "";
    std::printf("\r[%s] %-12s %lld/%lld loss %-10.5g %-10s", bar.c_str(),
                PhaseName(m.phase()).c_str(), static_cast<long long>(m.step()),
                static_cast<long long>(m.total_steps()), m.loss(), eta.c_str());
    std::fflush(stdout);
    if (op.done()) std::printf("\n");
  }

 private:
  bool tty_;
  std::string last_;
};

absl::StatusOr<lro::Operation> WaitFor(lro::Operations::Stub& stub, const std::string& name,
                                       int timeout_s, bool progress) {
  ProgressPrinter printer;
  const absl::Time until =
      timeout_s > 0 ? absl::Now() + absl::Seconds(timeout_s) : absl::InfiniteFuture();
  while (true) {
    lro::WaitOperationRequest req;
    req.set_name(name);
    ToDurationProto(absl::Seconds(1), req.mutable_timeout());
    lro::Operation op;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 30);
    RETURN_IF_ERROR(RpcStatus(stub.WaitOperation(&ctx, req, &op), "WaitOperation"));
    if (progress) printer.Show(op);
    if (op.done() || absl::Now() >= until) return op;
  }
}

absl::Status OutcomeOf(const lro::Operation& op) {
  if (!op.done()) return absl::DeadlineExceededError(absl::StrCat(op.name(), " is not done yet"));
  if (op.has_error()) {
    return absl::Status(static_cast<absl::StatusCode>(op.error().code()),
                        absl::StrCat(op.name(), ": ", op.error().message()));
  }
  v1::TrainingJobResult r;
  op.response().UnpackTo(&r);
  std::printf("trained %s version %lld; %s split: PCC %.3f, identification %.3f\n",
              r.model().c_str(), static_cast<long long>(r.version()),
              r.evaluation().split().c_str(),
              r.evaluation().metrics().count("pcc") ? r.evaluation().metrics().at("pcc") : 0.0,
              r.evaluation().metrics().count("identification_pcc")
                  ? r.evaluation().metrics().at("identification_pcc")
                  : 0.0);
  for (const auto& h : r.evaluation().hyperparameters())
    std::printf("%s", HyperparameterTable(h).c_str());
  return absl::OkStatus();
}

void PrintDataset(const v1::Dataset& d) {
  std::printf("%-20s %8lld bytes  %5d voxels  %4d train  %4d test  sha256 %s\n", d.name().c_str(),
              static_cast<long long>(d.total_bytes()), d.num_voxels(), d.num_train(), d.num_test(),
              d.sha256().c_str());
}

}  // namespace

// A temporary folder, removed with its contents when this goes.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "v2p-upload-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

absl::Status RunDatasetsUpload(const DatasetsOptions& o) {
  ASSIGN_OR_RETURN(const v1::DatasetDescription description,
                   spec::ReadDatasetDescription(o.description));
  const ScratchDir scratch;
  if (scratch.path().empty()) return absl::InternalError("cannot make a temporary folder");
  ASSIGN_OR_RETURN(const UploadFile upload,
                   PrepareUpload(description, spec::DescriptionDataRoot(o.description, o.data_root),
                                 scratch.path()));
  const std::filesystem::path file(upload.path);
  std::error_code ec;
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(file, ec));
  if (ec) return absl::NotFoundError(absl::StrCat("cannot read ", file.string()));
  if (upload.bundled)
    std::printf("bundled %d variables from %d files into one MATLAB file (%lld bytes)\n",
                upload.num_variables, upload.num_files, static_cast<long long>(size));
  ASSIGN_OR_RETURN(const std::string sha, store::Sha256OfFile(file.string()));
  auto stub = v1::Datasets::NewStub(Connect(o.server));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 600);
  v1::Dataset result;
  auto writer = stub->UploadDataset(&ctx, &result);
  v1::UploadDatasetRequest req;
  auto* h = req.mutable_header();
  h->set_name(o.name.empty() ? description.name() : o.name);
  *h->mutable_description() = upload.description;
  h->set_total_bytes(size);
  h->set_sha256(sha);
  bool ok = writer->Write(req);
  std::ifstream f(file, std::ios::binary);
  std::string buf(kChunkBytes, '\0');
  int64_t sent = 0;
  while (ok && f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() == 0) break;
    v1::UploadDatasetRequest chunk;
    chunk.set_chunk(buf.data(), static_cast<size_t>(f.gcount()));
    ok = writer->Write(chunk);
    sent += f.gcount();
  }
  writer->WritesDone();
  RETURN_IF_ERROR(RpcStatus(writer->Finish(), "UploadDataset"));
  std::printf("uploaded %s (%lld bytes)\n", upload.bundled ? "the bundle" : file.string().c_str(),
              static_cast<long long>(sent));
  PrintDataset(result);
  return absl::OkStatus();
}

absl::Status RunDatasetsList(const DatasetsOptions& o) {
  auto stub = v1::Datasets::NewStub(Connect(o.server));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  v1::ListDatasetsResponse resp;
  RETURN_IF_ERROR(RpcStatus(stub->ListDatasets(&ctx, {}, &resp), "ListDatasets"));
  for (const auto& d : resp.datasets()) PrintDataset(d);
  if (resp.datasets().empty())
    std::printf("(no datasets; upload one with `v2p datasets upload`)\n");
  return absl::OkStatus();
}

absl::Status RunDatasetsShow(const DatasetsOptions& o) {
  auto stub = v1::Datasets::NewStub(Connect(o.server));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  v1::GetDatasetRequest req;
  req.set_name(o.name);
  v1::Dataset d;
  RETURN_IF_ERROR(RpcStatus(stub->GetDataset(&ctx, req, &d), "GetDataset"));
  PrintDataset(d);
  std::printf("%s", d.description().DebugString().c_str());
  return absl::OkStatus();
}

absl::Status RunDatasetsDelete(const DatasetsOptions& o) {
  auto stub = v1::Datasets::NewStub(Connect(o.server));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  v1::DeleteDatasetRequest req;
  req.set_name(o.name);
  google::protobuf::Empty empty;
  RETURN_IF_ERROR(RpcStatus(stub->DeleteDataset(&ctx, req, &empty), "DeleteDataset"));
  std::printf("deleted dataset %s\n", o.name.c_str());
  return absl::OkStatus();
}

absl::Status RunRemoteTrain(const RemoteTrainOptions& o) {
  ASSIGN_OR_RETURN(const std::string spec, spec::PipelineSpecText(o.spec));
  if (o.spec.empty())
    std::printf(
        "no --spec: the default pipeline (ridge to pixels, z-scored voxels, alpha by "
        "5-fold cross-validation)\n");
  auto channel = Connect(o.server);
  auto training = v1::Training::NewStub(channel);
  v1::CreateTrainingJobRequest req;
  req.set_dataset(o.dataset);
  req.set_pipeline_spec(spec);
  req.set_model(o.model);
  req.set_seed(o.seed);
  req.set_validation_split(o.validation_split);
  lro::Operation op;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  RETURN_IF_ERROR(RpcStatus(training->CreateTrainingJob(&ctx, req, &op), "CreateTrainingJob"));
  std::printf("submitted %s\n", op.name().c_str());
  if (!o.wait) {
    std::printf("follow it with: v2p jobs wait --server %s --job %s\n", o.server.c_str(),
                op.name().c_str());
    return absl::OkStatus();
  }
  auto ops = lro::Operations::NewStub(channel);
  ASSIGN_OR_RETURN(op, WaitFor(*ops, op.name(), 0, /*progress=*/true));
  return OutcomeOf(op);
}

absl::Status RunJobsList(const JobsOptions& o) {
  auto stub = lro::Operations::NewStub(Connect(o.server));
  std::string token;
  int count = 0;
  do {
    lro::ListOperationsRequest req;
    req.set_filter(o.filter);
    req.set_page_token(token);
    lro::ListOperationsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 30);
    RETURN_IF_ERROR(RpcStatus(stub->ListOperations(&ctx, req, &resp), "ListOperations"));
    for (const auto& op : resp.operations()) {
      std::printf("%s\n", Describe(op).c_str());
      ++count;
    }
    token = resp.next_page_token();
  } while (!token.empty());
  if (count == 0) std::printf("(no jobs)\n");
  return absl::OkStatus();
}

absl::Status RunJobsShow(const JobsOptions& o) {
  auto stub = lro::Operations::NewStub(Connect(o.server));
  lro::GetOperationRequest req;
  req.set_name(OperationName(o.name));
  lro::Operation op;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  RETURN_IF_ERROR(RpcStatus(stub->GetOperation(&ctx, req, &op), "GetOperation"));
  std::printf("%s\n", Describe(op).c_str());
  v1::TrainingJobMetadata m;
  op.metadata().UnpackTo(&m);
  std::printf("%s", m.DebugString().c_str());
  return absl::OkStatus();
}

absl::Status RunJobsWait(const JobsOptions& o) {
  auto stub = lro::Operations::NewStub(Connect(o.server));
  ASSIGN_OR_RETURN(const lro::Operation op,
                   WaitFor(*stub, OperationName(o.name), o.timeout_s, /*progress=*/true));
  return OutcomeOf(op);
}

absl::Status RunJobsCancel(const JobsOptions& o) {
  auto stub = lro::Operations::NewStub(Connect(o.server));
  lro::CancelOperationRequest req;
  req.set_name(OperationName(o.name));
  google::protobuf::Empty empty;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  RETURN_IF_ERROR(RpcStatus(stub->CancelOperation(&ctx, req, &empty), "CancelOperation"));
  std::printf("cancellation requested for %s\n", req.name().c_str());
  return absl::OkStatus();
}

absl::Status RunJobsDelete(const JobsOptions& o) {
  auto stub = lro::Operations::NewStub(Connect(o.server));
  lro::DeleteOperationRequest req;
  req.set_name(OperationName(o.name));
  google::protobuf::Empty empty;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  RETURN_IF_ERROR(RpcStatus(stub->DeleteOperation(&ctx, req, &empty), "DeleteOperation"));
  std::printf("deleted %s\n", req.name().c_str());
  return absl::OkStatus();
}

absl::Status RunHealth(const std::string& server, const std::string& service, int deadline_s) {
  auto stub = grpc::health::v1::Health::NewStub(Connect(server));
  grpc::ClientContext context;
  SetDeadline(&context, deadline_s);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  if (absl::Status s = RpcStatus(stub->Check(&context, request, &response), "health check");
      !s.ok())
    return s;
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  std::printf("%s %s\n", service.empty() ? "(process)" : service.c_str(), status.c_str());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING)
    return absl::UnavailableError(absl::StrCat(server, " is ", status));
  return absl::OkStatus();
}

}  // namespace v2p::client
