#include "spec/spec_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "proto/text_proto.h"

namespace v2p::spec {
namespace {

namespace v1 = voxel2pixel::v1;

template <typename Message>
absl::StatusOr<Message> ReadTextProto(const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return v2p::ParseTextProto<Message>(*text, path);
}

}  // namespace

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

absl::StatusOr<v1::PipelineSpec> ReadPipelineSpec(const std::string& path) {
  return ReadTextProto<v1::PipelineSpec>(path);
}

absl::StatusOr<v1::PipelineSpec> ParsePipelineSpec(const std::string& text) {
  return v2p::ParseTextProto<v1::PipelineSpec>(text, "pipeline spec");
}

absl::StatusOr<std::string> PipelineSpecText(const std::string& path) {
  if (path.empty()) return std::string(kDefaultPipelineSpec);
  return ReadTextFile(path);
}

absl::StatusOr<v1::DatasetDescription> ReadDatasetDescription(const std::string& path) {
  return ReadTextProto<v1::DatasetDescription>(path);
}

std::string DescriptionDataRoot(const std::string& description_path, const std::string& data_root) {
  if (!data_root.empty()) return data_root;
  const std::filesystem::path dir = std::filesystem::path(description_path).parent_path();
  return dir.empty() ? "." : dir.string();
}

}  // namespace v2p::spec
