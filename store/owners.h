// Who owns a model name, when the gateway requires tokens (--auth_tokens):
// the lab whose job first trained it. Recorded as
//   models/<name>/owner   the lab's name and a newline
// Datasets and jobs carry their owner in their own records
// (Dataset.owner, TrainingJobMetadata.owner). A model with no owner file
// (trained locally, or before tokens were required) is owned by no lab:
// only an admin may add versions to it.
#ifndef V2P_STORE_OWNERS_H_
#define V2P_STORE_OWNERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::store {

// The recorded owner of model `name`, "" when there is none.
std::string ModelOwner(const std::string& root, const std::string& name);

// Makes `lab` the owner of model `name` unless the name is taken: OK when
// the model does not exist yet (the owner file is created exclusively, so
// of two labs racing for a new name one wins) or is already `lab`'s;
// PERMISSION_DENIED when another lab owns it or it exists with no owner.
absl::Status ClaimModel(const std::string& root, const std::string& name, const std::string& lab);

}  // namespace v2p::store

#endif  // V2P_STORE_OWNERS_H_
