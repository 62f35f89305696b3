// The methods a process can fit and serve, by the name recorded in each
// model's manifest. The built-in methods are registered by one line each
// (builtin_methods.cc); a program may register more before it loads or
// trains anything (a test's method, a lab's own).
#ifndef V2P_CORE_METHODS_REGISTRY_H_
#define V2P_CORE_METHODS_REGISTRY_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/pipeline/method.h"
#include "core/pipeline/pipeline.h"

namespace v2p::core {

// A method's settings when it is named generically in a spec (a name and
// key/value parameters), rather than through the typed spec messages.
using MethodParameters = std::map<std::string, std::string>;

// How a method takes one generic parameter: sets its option from the
// value, or says what the value should be (INVALID_ARGUMENT, without the
// method or key: ApplyParameters names them).
using ParameterSetter = std::function<absl::Status(const std::string& value)>;

// Applies `parameters` through `setters`, one per key the method takes.
// INVALID_ARGUMENT for a key it does not take (listing those it does) or a
// value its setter refuses, each naming `method` and the key; client text
// is quoted at most 64 bytes long, escaped.
absl::Status ApplyParameters(const std::string& method, const MethodParameters& parameters,
                             const std::map<std::string, ParameterSetter>& setters);

// A setter parsing the value into *out: "true" or "false" for a bool, a
// finite number for a floating-point option, an integer for an integral
// one, the value itself for a string. `out` must outlive the setter.
template <typename T>
ParameterSetter SetsValue(T* out) {
  return [out](const std::string& value) -> absl::Status {
    bool ok = false;
    const char* wanted = "a number";
    if constexpr (std::is_same_v<T, std::string>) {
      *out = value;
      ok = true;
    } else if constexpr (std::is_same_v<T, bool>) {
      ok = value == "true" || value == "false";
      *out = value == "true";
      wanted = "true or false";
    } else if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      ok = absl::SimpleAtod(value, &v) && std::isfinite(v);
      *out = static_cast<T>(v);
    } else {
      ok = absl::SimpleAtoi(value, out);
      wanted = "an integer";
    }
    if (ok) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("is not ", wanted));
  };
}

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
