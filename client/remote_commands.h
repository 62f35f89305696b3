// `v2p datasets ...`, `v2p train --server ...` and `v2p jobs ...`: the
// commands that work through a server's Datasets, Training and
// google.longrunning.Operations services.
#ifndef V2P_CLIENT_REMOTE_COMMANDS_H_
#define V2P_CLIENT_REMOTE_COMMANDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace v2p::client {

struct DatasetsOptions {
  std::string server;
  std::string name;
  std::string description;  // upload: a DatasetDescription .pbtxt naming the file
  std::string data_root;    // resolves the description's relative file
};
absl::Status RunDatasetsUpload(const DatasetsOptions& options);
absl::Status RunDatasetsList(const DatasetsOptions& options);
absl::Status RunDatasetsShow(const DatasetsOptions& options);
absl::Status RunDatasetsDelete(const DatasetsOptions& options);

struct RemoteTrainOptions {
  std::string server;
  std::string dataset;  // name of an uploaded dataset
  std::string spec;     // pipeline spec .pbtxt
  std::string model;
  uint64_t seed = 0;
  double validation_split = 0;
  bool wait = false;
};
absl::Status RunRemoteTrain(const RemoteTrainOptions& options);

struct JobsOptions {
  std::string server;
  std::string name;  // operations/<id> or <id>
  std::string filter;
  int timeout_s = 0;  // wait: 0 = until done
};
absl::Status RunJobsList(const JobsOptions& options);
absl::Status RunJobsShow(const JobsOptions& options);
absl::Status RunJobsWait(const JobsOptions& options);
absl::Status RunJobsCancel(const JobsOptions& options);
absl::Status RunJobsDelete(const JobsOptions& options);

// `v2p health`: OK when `service` ("" = the process itself) of the server
// answers SERVING within `deadline_s`; UNAVAILABLE otherwise. What a
// Kubernetes exec probe runs where the listener speaks TLS (the kubelet's
// own gRPC probe speaks only plaintext).
absl::Status RunHealth(const std::string& server, const std::string& service, int deadline_s);

}  // namespace v2p::client

#endif  // V2P_CLIENT_REMOTE_COMMANDS_H_
