#include "spec/method_spec.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace v2p::spec {
namespace {

namespace v1 = voxel2pixel::v1;

absl::Status CheckName(const std::string& name, const char* what) {
  if (!IsPlainName(name))
    return absl::InvalidArgumentError(absl::StrCat(
        "pipeline spec: invalid ", what, " '", name.substr(0, 64), name.size() > 64 ? "...'" : "'",
        ": expected 1-64 characters of [A-Za-z0-9_.-] starting with a letter or digit"));
  return absl::OkStatus();
}

}  // namespace

bool IsPlainName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && absl::ascii_isalnum(name[0]) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
         });
}

absl::Status ValidateMethodSpec(const v1::PipelineSpec& spec) {
  if (!spec.has_method()) return absl::OkStatus();
  if (spec.target() != v1::TARGET_SPACE_UNSPECIFIED || spec.has_decoder() || spec.has_generator() ||
      spec.has_features() || spec.has_pixel_components())
    return absl::InvalidArgumentError(
        "pipeline spec: method { ... } names the whole pipeline; leave out target, decoder, "
        "generator, features and pixel_components");
  if (absl::Status s = CheckName(spec.method().name(), "method name"); !s.ok()) return s;
  if (spec.method().parameters_size() > kMaxMethodParameters)
    return absl::InvalidArgumentError(absl::StrCat("pipeline spec: method has ",
                                                   spec.method().parameters_size(),
                                                   " parameters; at most ", kMaxMethodParameters));
  for (const auto& [key, value] : spec.method().parameters()) {
    if (absl::Status s = CheckName(key, "method parameter"); !s.ok()) return s;
    if (value.size() > static_cast<size_t>(kMaxParameterValueBytes))
      return absl::InvalidArgumentError(
          absl::StrCat("pipeline spec: method parameter '", key, "' has ", value.size(),
                       " characters; at most ", kMaxParameterValueBytes));
  }
  return absl::OkStatus();
}

}  // namespace v2p::spec
