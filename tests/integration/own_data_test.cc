// A lab's own data through the generator methods: a dataset the test
// writes from MNIST 3s and 8s (not digit69's 6s and 9s) with simulated
// responses, no unpaired_images and no digit69 file. HYPER (its GAN trained
// in the job), DAND and an ICG pipeline each train locally (`v2p train`) and
// through the service (upload, CreateTrainingJob, --wait), on the dataset's
// own training stimuli, shifted.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/data/image_corpus.h"
#include "core/data/mat_file.h"
#include "core/data/simulated_experiment.h"
#include "experiments/feature_commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"

namespace v2p {
namespace {

using ::testing::HasSubstr;

// 120 threes and 120 eights train, 10 of each test; 400 simulated voxels.
absl::Status WriteOwnDataset(const std::string& dir) {
  ASSIGN_OR_RETURN(
      const core::LabeledImages mnist,
      core::ReadIdx(testing::DataDir() + "/corpora/mnist/mnist-10k-images-idx3-ubyte",
                    testing::DataDir() + "/corpora/mnist/mnist-10k-labels-idx1-ubyte", "mnist"));
  std::vector<int> train_rows, test_rows;
  int seen[10] = {};
  for (int i = 0; i < mnist.size(); ++i) {
    const int d = mnist.labels[i];
    if (d != 3 && d != 8) continue;
    if (seen[d] < 120)
      train_rows.push_back(i);
    else if (seen[d] < 130)
      test_rows.push_back(i);
    ++seen[d];
  }
  auto take = [&](const std::vector<int>& rows, Eigen::MatrixXd* images, Eigen::MatrixXd* labels) {
    images->resize(rows.size(), 784);
    labels->resize(rows.size(), 1);
    for (size_t i = 0; i < rows.size(); ++i) {
      images->row(i) = mnist.images.row(rows[i]).cast<double>();
      (*labels)(i, 0) = mnist.labels[rows[i]];
    }
  };
  Eigen::MatrixXd train, test, train_labels, test_labels;
  take(train_rows, &train, &train_labels);
  take(test_rows, &test, &test_labels);
  core::SimulationOptions so;
  so.num_voxels = 400;
  so.snr = 1;
  so.test_repeats = 4;
  ASSIGN_OR_RETURN(const core::SimulatedResponses r, core::SimulateResponses(train, test, so));
  RETURN_IF_ERROR(core::WriteMatFile(dir + "/threes_eights.mat", {{"betas_train", r.train},
                                                                  {"stimuli_train", train * 255.0},
                                                                  {"labels_train", train_labels},
                                                                  {"betas_test", r.test},
                                                                  {"stimuli_test", test * 255.0},
                                                                  {"labels_test", test_labels}}));
  return core::WriteFile(dir + "/threes_eights.pbtxt",
                         absl::StrCat("name: \"threes_eights\"\nfile: \"", dir,
                                      "/threes_eights.mat\"\n"
                                      "train { betas: \"betas_train\" stimuli: \"stimuli_train\" "
                                      "labels: \"labels_train\" }\n"
                                      "test { betas: \"betas_test\" stimuli: \"stimuli_test\" "
                                      "labels: \"labels_test\" }\n"
                                      "image { height: 28 width: 28 layout: "
                                      "IMAGE_LAYOUT_ROW_MAJOR }\n"));
}

struct Method {
  const char* name;
  const char* spec;
};
constexpr Method kMethods[] = {
    {"hyper",  // alpha left out: chosen by cross-validation
     "target: TARGET_SPACE_GAN_LATENT\n"
     "decoder { ridge { standardize_voxels: true } }\n"
     "generator { train { kind: \"GAN\" latent_size: 32 epochs: 3 } }\n"
     "clip_output: true\n"},
    {"dand",
     "target: TARGET_SPACE_DAND\n"
     "features { network: \"alexnet28\" layers: \"fc6\" }\n"
     "decoder { map {} }\n"
     "generator { train { epochs: 3 } }\n"
     "clip_output: true\n"},
    {"icg",
     "target: TARGET_SPACE_FEATURES\n"
     "features { network: \"alexnet28\" layers: \"fc6\" }\n"
     "decoder { ridge { alpha: 1000 standardize_voxels: true } }\n"
     "generator { train { kind: \"ICG\" epochs: 3 } }\n"
     "clip_output: true\n"},
};

class OwnData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir("own_data"));
    client::FeaturesTrainOptions f;
    f.repo = *dir_ + "/repo";
    f.data_root = testing::DataDir();
    f.fashion_dir = "";
    f.epochs = 2;
    f.statistics_images = 300;
    auto net = client::RunFeaturesTrain(f);
    ASSERT_TRUE(net.ok()) << net.status();
    ASSERT_TRUE(WriteOwnDataset(*dir_).ok());
    for (const Method& m : kMethods)
      ASSERT_TRUE(core::WriteFile(absl::StrCat(*dir_, "/", m.name, ".pbtxt"), m.spec).ok());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string* dir_;
};
std::string* OwnData::dir_ = nullptr;

// The identification (PCC) of the line v2p train prints for the test split
// ("test split (20 samples): PCC 0.61, SSIM-11g 0.2, identification 0.8"
// locally, "...; test split: PCC 0.61, identification 0.8" remotely).
double Identification(const std::string& output) {
  size_t line = output.find("\ntest split (");
  if (line == std::string::npos) line = output.find("; test split: ");
  if (line == std::string::npos) return -1;
  const size_t at = output.find("identification ", line);
  double v = -1;
  if (at != std::string::npos) std::sscanf(output.c_str() + at, "identification %lf", &v);
  return v;
}

TEST_F(OwnData, GeneratorMethodsTrainLocallyOnTheDatasetsOwnStimuli) {
  for (const Method& m : kMethods) {
    SCOPED_TRACE(m.name);
    const auto run = testing::RunCommand(absl::StrCat(
        testing::BinDir(), "/v2p train --dataset ", *dir_, "/threes_eights.pbtxt --spec ", *dir_,
        "/", m.name, ".pbtxt --repo ", *dir_, "/repo --model local_", m.name));
    ASSERT_EQ(run.exit_code, 0) << run.output;
    // The generator learned from the 240 training stimuli, shifted.
    EXPECT_THAT(run.output, HasSubstr("240 training stimuli x 9 (shifted by 0 or +-2 px; the "
                                      "dataset names no unpaired_images)"));
    EXPECT_THAT(run.output, HasSubstr("test split (20 samples)"));
    if (std::string(m.name) == "hyper")
      EXPECT_THAT(run.output, HasSubstr("ridge.alpha chosen by 5-fold cross-validation"));
    // 3s and 8s told apart from simulated responses: above chance.
    EXPECT_GT(Identification(run.output), 0.6) << run.output;
    std::printf("local %s: 2-way identification %.3f\n", m.name, Identification(run.output));
  }
}

TEST_F(OwnData, GeneratorMethodsTrainThroughTheService) {
  auto server =
      testing::ServerProcess::Start(*dir_ + "/repo", {"--workers=spawn:1", "--worker_device=cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + (*server)->address();
  const auto up =
      testing::RunCommand(absl::StrCat(cli, "datasets upload --name threes_eights --description ",
                                       *dir_, "/threes_eights.pbtxt", at));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  for (const Method& m : kMethods) {
    SCOPED_TRACE(m.name);
    const auto train = testing::RunCommand(
        absl::StrCat(cli, "train --dataset threes_eights --model served_", m.name,
                     " --wait --spec ", *dir_, "/", m.name, ".pbtxt", at));
    ASSERT_EQ(train.exit_code, 0) << train.output;
    EXPECT_THAT(train.output, HasSubstr(absl::StrCat("trained served_", m.name, " version 1")));
    // The penalty chosen in the job comes back with its result.
    if (std::string(m.name) == "hyper")
      EXPECT_THAT(train.output, HasSubstr("ridge.alpha chosen by 5-fold cross-validation"));
    EXPECT_GT(Identification(train.output), 0.6) << train.output;
    std::printf("served %s: 2-way identification %.3f\n", m.name, Identification(train.output));
  }
  // The choice stays with the model: `models show` prints it.
  const auto show = testing::RunCommand(absl::StrCat(cli, "models show --model served_hyper", at));
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_THAT(show.output, HasSubstr("ridge.alpha chosen by 5-fold cross-validation"));
  EXPECT_THAT(show.output, HasSubstr("<- chosen"));
}

}  // namespace
}  // namespace v2p
