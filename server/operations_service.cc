#include "server/operations_service.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "proto/client_text.h"
#include "proto/rpc_status.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;
using google::longrunning::Operation;

absl::StatusOr<bool> MatchesFilter(const Operation& op, const std::string& filter) {
  if (filter.size() > 1024)
    return absl::InvalidArgumentError(
        absl::StrCat("filter is ", filter.size(), " bytes; at most 1024"));
  const v1::TrainingJobMetadata meta = store::GetMetadata(op);
  for (absl::string_view term : absl::StrSplit(filter, ' ', absl::SkipWhitespace())) {
    if (term == "AND") continue;
    const size_t eq = term.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter term '", ClientText(term), "' is not key=value"));
    }
    const absl::string_view key = term.substr(0, eq), value = term.substr(eq + 1);
    bool match;
    if (key == "done") {
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError("filter: done takes true or false");
      }
      match = op.done() == (value == "true");
    } else if (key == "model") {
      match = meta.model() == value;
    } else if (key == "dataset") {
      match = meta.dataset() == value;
    } else if (key == "phase") {
      v1::TrainingJobMetadata::Phase phase;
      if (!v1::TrainingJobMetadata::Phase_Parse(std::string(value), &phase)) {
        return absl::InvalidArgumentError(
            absl::StrCat("filter: unknown phase '", ClientText(value), "'"));
      }
      match = meta.phase() == phase;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("filter: unknown key '", ClientText(key),
                                                     "' (done, model, dataset, phase)"));
    }
    if (!match) return false;
  }
  return true;
}

absl::StatusOr<Operation> OperationsService::Fetch(const grpc::ServerContext* context,
                                                   const std::string& name, std::string* id) const {
  auto caller = Identify(options_.auth, context);
  if (!caller.ok()) return caller.status();
  auto found = operations_->IdFromName(name);
  if (!found.ok()) return found.status();
  auto op = operations_->Get(*found);
  if (!op.ok()) return op.status();
  if (absl::Status s =
          CheckOwner(*caller, store::GetMetadata(*op).owner(), absl::StrCat("operation ", name));
      !s.ok())
    return s;
  *id = *std::move(found);
  return op;
}

grpc::Status OperationsService::ListOperations(
    grpc::ServerContext* context, const google::longrunning::ListOperationsRequest* request,
    google::longrunning::ListOperationsResponse* response) {
  auto caller = Identify(options_.auth, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (request->page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size must be >= 0");
  }
  // Checked before any operation is read, so that a malformed filter or
  // token is refused whether or not operations exist.
  if (absl::StatusOr<bool> s = MatchesFilter(Operation(), request->filter()); !s.ok())
    return ToGrpcStatus(s.status());
  if (!request->page_token().empty() &&
      !store::OperationStore::IsOperationId(request->page_token())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_token '", ClientText(request->page_token()),
                                     "' is not one ListOperations returned"));
  }
  const int page_size = request->page_size() == 0
                            ? options_.default_page_size
                            : std::min(request->page_size(), options_.max_page_size);
  // The page token is the id of the last operation of the previous page.
  for (const std::string& id : operations_->ListIds()) {
    if (!request->page_token().empty() && id <= request->page_token()) continue;
    auto op = operations_->Get(id);
    if (!op.ok()) continue;                                        // deleted meanwhile
    if (!caller->Owns(store::GetMetadata(*op).owner())) continue;  // another lab's
    auto match = MatchesFilter(*op, request->filter());
    if (!match.ok()) return ToGrpcStatus(match.status());
    if (!*match) continue;
    if (response->operations_size() == page_size) {
      response->set_next_page_token(std::string(
          absl::StripPrefix(response->operations().rbegin()->name(), store::kOperationPrefix)));
      break;
    }
    *response->add_operations() = *std::move(op);
  }
  return grpc::Status::OK;
}

grpc::Status OperationsService::GetOperation(
    grpc::ServerContext* context, const google::longrunning::GetOperationRequest* request,
    Operation* response) {
  std::string id;
  auto op = Fetch(context, request->name(), &id);
  if (!op.ok()) return ToGrpcStatus(op.status());
  *response = *std::move(op);
  return grpc::Status::OK;
}

grpc::Status OperationsService::DeleteOperation(
    grpc::ServerContext* context, const google::longrunning::DeleteOperationRequest* request,
    google::protobuf::Empty*) {
  std::string id;
  auto op = Fetch(context, request->name(), &id);
  if (!op.ok()) return ToGrpcStatus(op.status());
  if (!op->done()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat(request->name(), " is still running; cancel it first"));
  }
  return ToGrpcStatus(operations_->Delete(id));
}

grpc::Status OperationsService::CancelOperation(
    grpc::ServerContext* context, const google::longrunning::CancelOperationRequest* request,
    google::protobuf::Empty*) {
  std::string id;
  auto op = Fetch(context, request->name(), &id);
  if (!op.ok()) return ToGrpcStatus(op.status());
  if (op->done()) return grpc::Status::OK;
  if (absl::Status s = operations_->RequestCancel(id); !s.ok()) return ToGrpcStatus(s);
  // A running job sees the request between two steps. A job no worker
  // holds is ended here, under its lease so that no worker starts it.
  const std::string me = store::OperationStore::ThisProcessOwner();
  auto claimed = operations_->TryClaim(id, me, absl::Seconds(30));
  absl::Status status;
  if (claimed.ok() && *claimed) {
    op = operations_->Get(id);
    if (op.ok() && !op->done()) {
      v1::TrainingJobMetadata meta = store::GetMetadata(*op);
      meta.set_phase(v1::TrainingJobMetadata::DONE);
      meta.set_cancel_requested(true);
      store::SetMetadata(meta, &*op);
      op->set_done(true);
      op->mutable_error()->set_code(static_cast<int>(grpc::StatusCode::CANCELLED));
      op->mutable_error()->set_message("cancelled before a worker started it");
      status = operations_->Write(id, *op);
    }
    // The cancel file stays: a worker that claims the job later ends it.
    if (absl::Status released = operations_->Release(id, me); status.ok()) status = released;
  }
  return ToGrpcStatus(status);
}

grpc::Status OperationsService::WaitOperation(
    grpc::ServerContext* context, const google::longrunning::WaitOperationRequest* request,
    Operation* response) {
  std::string id;
  if (auto op = Fetch(context, request->name(), &id); !op.ok()) return ToGrpcStatus(op.status());
  // Answer before the caller's deadline so that the reply, not
  // DEADLINE_EXCEEDED, reaches it: a quarter of the time left, from 50 ms
  // to 500 ms, leaves room for a loaded machine (50 ms alone was missed in
  // CI). The request's own timeout is kept to the letter.
  absl::Time until = absl::FromChrono(context->deadline());
  if (until != absl::InfiniteFuture()) {
    until -= std::clamp((until - absl::Now()) / 4, absl::Milliseconds(50), absl::Milliseconds(500));
  }
  if (request->has_timeout()) {
    until = std::min(until, absl::Now() + FromDurationProto(request->timeout()));
  } else if (until == absl::InfiniteFuture()) {
    until = absl::Now() + options_.max_wait;
  }
  while (true) {
    auto op = operations_->Get(id);
    if (!op.ok()) return ToGrpcStatus(op.status());
    if (op->done() || absl::Now() >= until || context->IsCancelled()) {
      *response = *std::move(op);
      return grpc::Status::OK;
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(
        std::min(options_.poll_interval, std::max(absl::ZeroDuration(), until - absl::Now()))));
  }
}

}  // namespace v2p::server
