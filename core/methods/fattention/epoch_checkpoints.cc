#include "core/methods/fattention/epoch_checkpoints.h"

#include <filesystem>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/files.h"
#include "core/base/log.h"

namespace v2p::core::internal {
namespace {

namespace fs = std::filesystem;

constexpr char kProgressFile[] = "progress.txt";

// LibTorch's CPU generator: dropout and the unpaired images' draws.
at::Generator CpuGenerator() { return at::detail::getDefaultCPUGenerator(); }

}  // namespace

EpochCheckpoints::EpochCheckpoints(std::string dir, std::vector<int> stage_epochs)
    : dir_(std::move(dir)), stage_epochs_(std::move(stage_epochs)) {
  if (dir_.empty() || !fs::exists(dir_ + "/" + kProgressFile)) return;
  if (!ReadPosition()) {
    LogWarning("train", "F-attention checkpoint in ", dir_, " does not read; starting over");
    stage_ = -1;
    epochs_ = 0;
    return;
  }
  LogInfo("train", "F-attention resuming after epoch ", epochs_, "/", stage_epochs_[stage_],
          " of stage ", stage_);
}

std::string EpochCheckpoints::Archive(int stage, int epochs) const {
  return absl::StrCat(dir_, "/stage", stage, "_epoch", epochs, ".pt");
}

// progress.txt: "stage <k>\nepochs <e>\nshuffler <state>\n". Valid when the
// position fits the configuration and every archive a resume needs exists.
bool EpochCheckpoints::ReadPosition() {
  auto text = ReadFile(dir_ + "/" + kProgressFile);
  if (!text.ok()) return false;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    if (kv.first == "stage" && !absl::SimpleAtoi(kv.second, &stage_)) return false;
    if (kv.first == "epochs" && !absl::SimpleAtoi(kv.second, &epochs_)) return false;
    if (kv.first == "shuffler") {
      const size_t at = line.find(' ');
      shuffler_ = std::string(line.substr(at + 1));
    }
  }
  if (stage_ < 0 || stage_ >= static_cast<int>(stage_epochs_.size()) || epochs_ < 1 ||
      epochs_ > stage_epochs_[stage_] || shuffler_.empty())
    return false;
  std::mt19937_64 probe;
  std::istringstream in(shuffler_);
  if (!(in >> probe)) return false;
  for (int s = 0; s < stage_; ++s) {
    if (stage_epochs_[s] > 0 && !fs::exists(Archive(s, stage_epochs_[s]))) return false;
  }
  return fs::exists(Archive(stage_, epochs_));
}

int EpochCheckpoints::resumed_epochs() const {
  if (stage_ < 0) return 0;
  int done = epochs_;
  for (int s = 0; s < stage_; ++s) done += stage_epochs_[s];
  return done;
}

void EpochCheckpoints::RestoreShuffler(std::mt19937_64* shuffler) const {
  if (stage_ < 0) return;
  std::istringstream in(shuffler_);
  in >> *shuffler;
}

absl::StatusOr<int> EpochCheckpoints::Resume(int stage, torch::nn::Module& net,
                                             torch::optim::Optimizer& optimizer) const {
  if (stage_ < stage) return 0;
  const int done = stage_ > stage ? stage_epochs_[stage] : epochs_;
  if (done == 0) return 0;
  const std::string path = Archive(stage, done);
  try {
    torch::serialize::InputArchive archive, net_archive;
    archive.load_from(path);
    archive.read("net", net_archive);
    net.load(net_archive);
    if (stage_ == stage) {  // interrupted here: go on exactly where it stopped
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer", optimizer_archive);
      optimizer.load(optimizer_archive);
      torch::Tensor random_state;
      archive.read("torch_random", random_state);
      at::Generator g = CpuGenerator();
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_state(random_state);
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat("F-attention checkpoint ", fs::path(path).filename().string(),
                     " does not load: ", std::string(e.what()).substr(0, 300)));
  }
  return done;
}

absl::Status EpochCheckpoints::Save(int stage, int epochs, const torch::nn::Module& net,
                                    const torch::optim::Optimizer& optimizer,
                                    const std::mt19937_64& shuffler) {
  if (dir_.empty()) return absl::OkStatus();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const std::string path = Archive(stage, epochs);
  try {
    torch::serialize::OutputArchive archive, net_archive, optimizer_archive;
    net.save(net_archive);
    optimizer.save(optimizer_archive);
    archive.write("net", net_archive);
    archive.write("optimizer", optimizer_archive);
    at::Generator g = CpuGenerator();
    {
      std::lock_guard<std::mutex> lock(g.mutex());
      archive.write("torch_random", g.get_state());
    }
    archive.save_to(path + ".tmp");
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("writing an F-attention checkpoint: ", std::string(e.what()).substr(0, 300)));
  }
  fs::rename(path + ".tmp", path, ec);
  if (ec) return absl::InternalError(absl::StrCat("checkpoint rename: ", ec.message()));
  std::ostringstream state;
  state << shuffler;
  const std::string progress = dir_ + "/" + kProgressFile;
  if (absl::Status s = WriteFile(
          progress + ".tmp",
          absl::StrCat("stage ", stage, "\nepochs ", epochs, "\nshuffler ", state.str(), "\n"));
      !s.ok())
    return s;
  fs::rename(progress + ".tmp", progress, ec);
  if (ec) return absl::InternalError(absl::StrCat("checkpoint rename: ", ec.message()));
  // The stage's previous archive is superseded.
  if (stage_ == stage && epochs_ != epochs) fs::remove(Archive(stage_, epochs_), ec);
  stage_ = stage;
  epochs_ = epochs;
  return absl::OkStatus();
}

}  // namespace v2p::core::internal
