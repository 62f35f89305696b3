#include "core/methods/registry.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"

namespace v2p::core {

absl::Status ApplyParameters(const std::string& method, const MethodParameters& parameters,
                             const std::map<std::string, ParameterSetter>& setters) {
  auto quoted = [](const std::string& text) {
    return absl::StrCat("'", absl::CHexEscape(text.substr(0, 64)), text.size() > 64 ? "...'" : "'");
  };
  for (const auto& [key, value] : parameters) {
    auto it = setters.find(key);
    if (it == setters.end()) {
      std::string known;
      for (const auto& [name, unused] : setters)
        absl::StrAppend(&known, known.empty() ? "" : ", ", name);
      return absl::InvalidArgumentError(absl::StrCat("method ", method, ": unknown parameter ",
                                                     quoted(key), " (it takes ", known, ")"));
    }
    if (absl::Status s = it->second(value); !s.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("method ", method, ": ", key, " ", s.message(), ": ", quoted(value)));
  }
  return absl::OkStatus();
}

MethodRegistry& MethodRegistry::Global() {
  static MethodRegistry* registry = [] {
    auto* r = new MethodRegistry;
    RegisterBuiltinMethods(*r);
    return r;
  }();
  return *registry;
}

absl::Status MethodRegistry::Register(MethodEntry entry) {
  if (entry.name.empty() || !entry.load)
    return absl::InvalidArgumentError("a method is registered with a name and a loader");
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.count(entry.name))
    return absl::AlreadyExistsError(absl::StrCat("method '", entry.name, "' is registered"));
  std::string name = entry.name;
  entries_.emplace(std::move(name), std::move(entry));
  return absl::OkStatus();
}

std::vector<std::string> MethodRegistry::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

absl::StatusOr<MethodEntry> MethodRegistry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = entries_.find(name);
  if (it != entries_.end()) return it->second;
  std::vector<std::string> known;
  for (const auto& [n, entry] : entries_) known.push_back(n);
  return absl::NotFoundError(absl::StrCat("no method '", name.substr(0, 64),
                                          "' in this process (it has ", absl::StrJoin(known, ", "),
                                          ")"));
}

absl::StatusOr<std::shared_ptr<const Method>> CreateMethod(const std::string& name,
                                                           const MethodParameters& parameters) {
  auto entry = MethodRegistry::Global().Find(name);
  if (!entry.ok()) return absl::InvalidArgumentError(entry.status().message());
  if (!entry->create)
    return absl::InvalidArgumentError(
        absl::StrCat("method '", name, "' is set up by its typed spec fields, not by parameters"));
  return entry->create(parameters);
}

absl::StatusOr<std::shared_ptr<const Pipeline>> LoadPipeline(const std::string& dir,
                                                             int64_t version) {
  ASSIGN_OR_RETURN(ModelManifest manifest, ReadManifest(dir + "/" + kManifestFile));
  manifest.version = version;
  auto data_loss = [&](const absl::Status& s) {
    return absl::DataLossError(absl::StrCat(dir, ": ", s.message()));
  };
  auto entry = MethodRegistry::Global().Find(manifest.method);
  if (!entry.ok()) return data_loss(entry.status());
  auto stages = entry->load(dir, manifest);
  if (!stages.ok()) return data_loss(stages.status());
  auto pipeline = Pipeline::Create(std::move(manifest), *std::move(stages));
  if (!pipeline.ok()) return data_loss(pipeline.status());
  return pipeline;
}

}  // namespace v2p::core
