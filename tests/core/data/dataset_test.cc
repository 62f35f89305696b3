#include "core/data/dataset.h"

#include "core/data/mat_file.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

DatasetOptions Digit69() { return testing::Digit69Options(); }

TEST(Dataset, LoadsDigit69Shapes) {
  auto ds = LoadDataset(Digit69());
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->train.betas.rows(), 90);
  EXPECT_EQ(ds->train.betas.cols(), 3092);
  EXPECT_EQ(ds->test.betas.rows(), 10);
  EXPECT_EQ(ds->train.stimuli.cols(), 784);
  EXPECT_GE(ds->train.stimuli.minCoeff(), 0.0);
  EXPECT_LE(ds->train.stimuli.maxCoeff(), 1.0);
  EXPECT_EQ(ds->test.labels.size(), 10);
}

// The column-major layout is handled if images come out upright: a "6"
// carries its loop low, a "9" high, so sixes are more bottom-heavy than
// nines (a nine's stem balances its own halves). Transposed images would
// turn that top/bottom contrast into a left/right one and flip the sign.
TEST(Dataset, ColumnMajorStimuliComeOutUpright) {
  auto ds = LoadDataset(Digit69());
  ASSERT_TRUE(ds.ok()) << ds.status();
  double bottom_heaviness[3] = {0, 0, 0};
  int count[3] = {0, 0, 0};
  for (Eigen::Index i = 0; i < ds->train.stimuli.rows(); ++i) {
    double upper = 0, lower = 0;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) (r < 14 ? upper : lower) += ds->train.stimuli(i, r * 28 + c);
    bottom_heaviness[ds->train.labels(i)] += lower - upper;
    ++count[ds->train.labels(i)];
  }
  ASSERT_EQ(count[1], 45);
  ASSERT_EQ(count[2], 45);
  const double six = bottom_heaviness[1] / count[1], nine = bottom_heaviness[2] / count[2];
  EXPECT_GT(six, 0) << "sixes should carry more ink in their lower half";
  EXPECT_GT(six - nine, 5.0) << "six " << six << ", nine " << nine;
}

TEST(Dataset, ToRowMajorTransposesEachChannel) {
  Eigen::MatrixXd col_major(1, 6);  // 2x3 image stored column by column
  col_major << 1, 4, 2, 5, 3, 6;
  const Eigen::MatrixXd row_major =
      ToRowMajorImages(col_major, {2, 3, 1}, ImageLayout::kColumnMajor);
  Eigen::RowVectorXd want(6);
  want << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(row_major.row(0), want);
}

TEST(Dataset, ErrorsNameTheProblem) {
  DatasetOptions o = Digit69();
  o.train.betas = "noSuchVar";
  auto ds = LoadDataset(o);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(ds.status().message().find("fmriTrn"), std::string::npos) << ds.status();

  o = Digit69();
  o.image = {32, 32, 1};
  EXPECT_EQ(LoadDataset(o).status().code(), absl::StatusCode::kInvalidArgument);

  // An .npz is read (core/data/matrix_file.h) and its arrays named when
  // the description's variables are not among them; a text file is none
  // of the formats.
  o = Digit69();
  o.file = testing::DataDir() + "/fastl2lir_vectors/testdata_basic.npz";
  const absl::Status npz = LoadDataset(o).status();
  EXPECT_EQ(npz.code(), absl::StatusCode::kNotFound) << npz;
  EXPECT_NE(npz.message().find("(it has: b_1d, b_2d"), std::string::npos) << npz;
  o.file = testing::DataDir() + "/fastl2lir_vectors/LICENSE";
  EXPECT_EQ(LoadDataset(o).status().code(), absl::StatusCode::kInvalidArgument);
}

// A file written by WriteMatFile reads back exactly, and a dataset's
// unpaired images load in the stimuli's layout and scale.
TEST(Dataset, WrittenFileRoundTripsWithUnpairedImages) {
  const std::string path = ::testing::TempDir() + "/digit69_with_prior.mat";
  auto o = testing::WriteDigit69WithPrior(path);
  ASSERT_TRUE(o.ok()) << o.status();
  auto written = LoadDataset(*o);
  auto original = LoadDataset(Digit69());
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_TRUE(original.ok()) << original.status();
  EXPECT_EQ(written->train.betas, original->train.betas);
  EXPECT_EQ(written->test.stimuli, original->test.stimuli);
  EXPECT_EQ(written->train.labels, original->train.labels);
  ASSERT_EQ(written->unpaired.rows(), 2000);
  ASSERT_EQ(written->unpaired.cols(), 784);
  EXPECT_GE(written->unpaired.minCoeff(), 0.0);
  EXPECT_LE(written->unpaired.maxCoeff(), 1.0);
  EXPECT_GT(written->unpaired.maxCoeff(), 0.9);
  // Upright like the stimuli: ink is centred, so the border is nearly empty.
  double border = 0, centre = 0;
  for (int r = 0; r < 28; ++r)
    for (int c = 0; c < 28; ++c)
      (r < 2 || r > 25 || c < 2 || c > 25 ? border : centre) +=
          written->unpaired.col(r * 28 + c).mean();
  EXPECT_LT(border, 0.05 * centre);

  DatasetOptions bad = *o;
  bad.unpaired_images = "fmriTrn";  // 90 x 3092: not images
  EXPECT_EQ(LoadDataset(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteMatFile(path, {{"a", Eigen::MatrixXd(1, 1)}, {"a", Eigen::MatrixXd(1, 1)}}).code(),
            absl::StatusCode::kInvalidArgument);
}

// digit69 written again with its stimuli rescaled to [0, 1] (as many labs
// store them): declared pixel_max 1, or left out, it loads to the same
// [0, 1] stimuli as the shipped 0..255 file; left out on the shipped file,
// 255 is inferred. A declaration the values contradict is refused with what
// was found: 255 over [0, 1] stimuli (the silent near-black scaling), 1 over
// 0..255 ones, and negative values.
TEST(Dataset, PixelRangeIsInferredOrCheckedAgainstTheStimuli) {
  const DatasetOptions shipped = Digit69();
  auto original = LoadDataset(shipped);
  ASSERT_TRUE(original.ok()) << original.status();
  EXPECT_EQ(original->pixel_max, 255);
  auto mat = MatFile::Open(shipped.file);
  ASSERT_TRUE(mat.ok());
  auto write = [&](const std::string& path, double scale, double shift) {
    std::vector<std::pair<std::string, Eigen::MatrixXd>> vars;
    for (const std::string& name :
         {shipped.train.betas, shipped.train.stimuli, shipped.test.betas, shipped.test.stimuli}) {
      Eigen::MatrixXd m = *(*mat)->ReadMatrix(name);
      if (name == shipped.train.stimuli || name == shipped.test.stimuli)
        m = (m * scale).array() + shift;
      vars.emplace_back(name, std::move(m));
    }
    EXPECT_TRUE(WriteMatFile(path, vars).ok());
    DatasetOptions o = shipped;
    o.file = path;
    o.train.labels = o.test.labels = "";
    o.pixel_max = 0;  // undeclared
    return o;
  };
  DatasetOptions unit = write(::testing::TempDir() + "/digit69_unit.mat", 1 / 255.0, 0);
  for (double declared : {1.0, 0.0}) {
    unit.pixel_max = declared;
    auto ds = LoadDataset(unit);
    ASSERT_TRUE(ds.ok()) << ds.status();
    EXPECT_EQ(ds->pixel_max, 1);
    EXPECT_LT((ds->train.stimuli - original->train.stimuli).cwiseAbs().maxCoeff(), 1e-12);
    EXPECT_LT((ds->test.stimuli - original->test.stimuli).cwiseAbs().maxCoeff(), 1e-12);
  }
  DatasetOptions inferred = shipped;
  inferred.pixel_max = 0;
  auto ds = LoadDataset(inferred);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->pixel_max, 255);
  EXPECT_EQ(ds->train.stimuli, original->train.stimuli);

  unit.pixel_max = 255;
  auto refused = LoadDataset(unit);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("look stored in [0, 1]"), std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("stimTrn holds values from 0 to 1"), std::string::npos)
      << refused.status();
  DatasetOptions low = shipped;
  low.pixel_max = 1;
  refused = LoadDataset(low);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("above the declared image.pixel_max 1"),
            std::string::npos)
      << refused.status();
  DatasetOptions centred = write(::testing::TempDir() + "/digit69_centred.mat", 2 / 255.0, -1);
  refused = LoadDataset(centred);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("from -1"), std::string::npos) << refused.status();
  DatasetOptions wide = write(::testing::TempDir() + "/digit69_wide.mat", 4, 0);  // 0..1020
  refused = LoadDataset(wide);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("declare the stored value of white"), std::string::npos)
      << refused.status();
  wide.pixel_max = 1020;
  EXPECT_TRUE(LoadDataset(wide).ok());
}

// Betas stored voxels x samples: the error says so instead of only
// counting images.
TEST(Dataset, TransposedBetasAreNamedAsSuch) {
  const DatasetOptions shipped = Digit69();
  auto mat = MatFile::Open(shipped.file);
  ASSERT_TRUE(mat.ok());
  std::vector<std::pair<std::string, Eigen::MatrixXd>> vars;
  for (const std::string& name :
       {shipped.train.betas, shipped.train.stimuli, shipped.test.betas, shipped.test.stimuli}) {
    const Eigen::MatrixXd m = *(*mat)->ReadMatrix(name);
    vars.emplace_back(name, name == shipped.train.betas ? Eigen::MatrixXd(m.transpose()) : m);
  }
  const std::string path = ::testing::TempDir() + "/digit69_transposed.mat";
  ASSERT_TRUE(WriteMatFile(path, vars).ok());
  DatasetOptions o = shipped;
  o.file = path;
  o.train.labels = o.test.labels = "";
  auto ds = LoadDataset(o);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ds.status().message().find("looks stored voxels x samples"), std::string::npos)
      << ds.status();
}

// 69dataset2.mat holds all 100 trials in presentation order (X, Y,
// stimulus_label; sixes in rows 1-50). Test trials named by ranges are
// exactly those rows, in order, and the rest train; named by a label value
// they are that class. No file is rewritten.
TEST(Dataset, TestTrialsAreRowsOfOneFileByRangesOrByVariable) {
  DatasetOptions o;
  o.name = "digit69_all";
  o.file = testing::DataDir() + "/digit69/69dataset2.mat";
  o.train = {"Y", "X", "stimulus_label"};
  o.image = {28, 28, 1};
  o.layout = ImageLayout::kColumnMajor;
  auto ranges = ParseTrialRanges("1-5, 51-55");
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  o.test_trials.ranges = *ranges;
  auto ds = LoadDataset(o);
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto mat = MatFile::Open(o.file);
  ASSERT_TRUE(mat.ok());
  const Eigen::MatrixXd y = *(*mat)->ReadMatrix("Y");
  ASSERT_EQ(ds->test.betas.rows(), 10);
  ASSERT_EQ(ds->train.betas.rows(), 90);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ds->test.betas.row(i), y.row(i));
    EXPECT_EQ(ds->test.betas.row(5 + i), y.row(50 + i));
  }
  EXPECT_EQ(ds->train.betas.row(0), y.row(5));
  EXPECT_EQ(ds->train.betas.row(89), y.row(99));
  EXPECT_EQ(ds->test.labels.head(5), Eigen::VectorXi::Constant(5, 1));
  EXPECT_EQ(ds->test.labels.tail(5), Eigen::VectorXi::Constant(5, 2));
  EXPECT_EQ(ds->test.stimuli.rows(), 10);
  EXPECT_EQ(ds->pixel_max, 255);

  DatasetOptions by_label = o;
  by_label.test_trials = {};
  by_label.test_trials.variable = "stimulus_label";
  by_label.test_trials.values = {2};
  ds = LoadDataset(by_label);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->test.betas.rows(), 50);
  EXPECT_EQ((ds->test.labels.array() == 2).count(), 50);
  EXPECT_EQ((ds->train.labels.array() == 1).count(), 50);

  // Refused, saying why: past the end, nothing to train, both ways, a test
  // split named twice, values missing.
  DatasetOptions bad = o;
  bad.test_trials.ranges = {{95, 101}};
  auto st = LoadDataset(bad).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("past the 100 trials"), std::string::npos) << st;
  bad.test_trials.ranges = {{1, 99}};
  st = LoadDataset(bad).status();
  EXPECT_NE(st.message().find("fewer than 2 to train"), std::string::npos) << st;
  bad = by_label;
  bad.test_trials.ranges = {{1, 2}};
  EXPECT_EQ(LoadDataset(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = o;
  bad.test.betas = "Y";
  st = LoadDataset(bad).status();
  EXPECT_NE(st.message().find("not both"), std::string::npos) << st;
  bad = by_label;
  bad.test_trials.values = {3};
  st = LoadDataset(bad).status();
  EXPECT_NE(st.message().find("selects no trial"), std::string::npos) << st;
  bad.test_trials.values.clear();
  EXPECT_EQ(LoadDataset(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Dataset, TrialRangesParseOrSayWhatIsExpected) {
  auto r = ParseTrialRanges("3,7-9");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], std::make_pair(int64_t{3}, int64_t{3}));
  EXPECT_EQ((*r)[1], std::make_pair(int64_t{7}, int64_t{9}));
  for (const char* bad : {"", "0-4", "5-2", "1-", "a", "1-2-3", "1,,2", "-3"}) {
    auto b = ParseTrialRanges(bad);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(b.status().message().find("1-5,51-55"), std::string::npos) << b.status();
  }
  const std::string huge(100000, '1');
  auto h = ParseTrialRanges(huge);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(h.status().message().size(), 200u);
}

}  // namespace
}  // namespace v2p::core
