// The methods a process can fit and serve, by the name recorded in each
// model's manifest. The built-in methods are registered by one line each
// (builtin_methods.cc); a program may register more before it loads or
// trains anything (a test's method, a lab's own).
#ifndef V2P_CORE_METHODS_REGISTRY_H_
#define V2P_CORE_METHODS_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/pipeline/method.h"
#include "core/pipeline/pipeline.h"

namespace v2p::core {

// A method's settings when it is named generically in a spec (a name and
// key/value parameters), rather than through the typed spec messages.
using MethodParameters = std::map<std::string, std::string>;

struct MethodEntry {
  std::string name;
  std::string summary;  // one line, for listings
  StageLoader load;
  // Builds the method from generic parameters; INVALID_ARGUMENT for an
  // unknown key or a bad value. Empty: only typed specs build it.
  std::function<absl::StatusOr<std::shared_ptr<const Method>>(const MethodParameters&)> create;
};

class MethodRegistry {
 public:
  // The process's registry, with the built-in methods.
  static MethodRegistry& Global();

  // ALREADY_EXISTS when the name is taken; INVALID_ARGUMENT for an empty
  // name or loader.
  absl::Status Register(MethodEntry entry);
  // NOT_FOUND naming the methods there are.
  absl::StatusOr<MethodEntry> Find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, MethodEntry> entries_;
};

// Registers the built-in methods (one line each).
void RegisterBuiltinMethods(MethodRegistry& registry);

// Builds a method named generically; INVALID_ARGUMENT for a name the
// registry does not hold or one that takes only a typed spec.
absl::StatusOr<std::shared_ptr<const Method>> CreateMethod(const std::string& name,
                                                           const MethodParameters& parameters);

// Loads a model version directory written by TrainModel() through its
// method's loader. DATA_LOSS (naming the directory) for a malformed
// manifest, files the loader cannot read, or a method this process lacks.
absl::StatusOr<std::shared_ptr<const Pipeline>> LoadPipeline(const std::string& dir,
                                                             int64_t version);

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_REGISTRY_H_
