// `v2p bench`: a load generator against a running server. N clients send
// single-sample requests (unary, or one stream each) for a duration and
// report latency percentiles, throughput, errors by code, and samples sent
// against results received.
#ifndef V2P_CLIENT_LOAD_COMMAND_H_
#define V2P_CLIENT_LOAD_COMMAND_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace v2p::client {

struct LoadOptions {
  std::string server;
  std::string model;
  int clients = 16;
  double duration_s = 10;
  bool stream = false;
  // Unary mode: samples per request (a batch evaluation sends many).
  int samples_per_request = 1;
  // Stream mode: samples in flight per stream; the writer waits beyond it.
  int window = 8;
  // Betas to send, cycled: a .mat file and variable; empty = Gaussian noise
  // of the model's voxel count.
  std::string betas;
  std::string mask;  // NIfTI betas: the mask volume (core/data/matrix_file.h)
  std::string var;
  // When set, results received are added to it as they arrive (to watch a
  // run from another thread).
  std::atomic<int64_t>* received_so_far = nullptr;
};

struct LoadReport {
  int64_t sent = 0;
  int64_t received = 0;
  double seconds = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
  std::map<std::string, int64_t> errors;  // by gRPC code name
  // The first message seen of each code: what an operator (or a failed
  // test's log) needs to tell one UNAVAILABLE from another.
  std::map<std::string, std::string> first_error;
  double throughput() const { return seconds > 0 ? received / seconds : 0; }
};

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options);
std::string FormatLoadReport(const LoadOptions& options, const LoadReport& report);

}  // namespace v2p::client

#endif  // V2P_CLIENT_LOAD_COMMAND_H_
