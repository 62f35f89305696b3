// The formats labs keep betas in (core/data/matrix_file.h), each on small
// files this test writes with the format's own library or layout: MATLAB
// v7.3 (matio over HDF5), .npy and .npz, bdpy BData (HDF5, a region
// selected by its name) and NIfTI with a mask, whose round trip volume ->
// betas -> volume is exact. digit69 rewritten as .npz and as v7.3 loads
// as the same dataset.
#include "core/data/matrix_file.h"

#include <hdf5.h>
#include <matio.h>
#include <nifti2_io.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/data/dataset.h"
#include "core/data/mat_file.h"
#include "core/data/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/spec_files.h"
#include "tests/testing/digit69.h"
#include "tests/testing/lab_files.h"
#include "tests/testing/test_paths.h"
#include "workers/dataset_options.h"

namespace v2p::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Eigen::MatrixXd Values(int rows, int cols, double offset = 0) {
  Eigen::MatrixXd m(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) m(r, c) = offset + r * 100 + c + 0.25;
  return m;
}

class MatrixFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("matrix_file"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

// A stored (uncompressed) ZIP of .npy members: what numpy.savez writes.
void WriteNpz(const std::string& path,
              const std::vector<std::pair<std::string, Eigen::MatrixXd>>& arrays,
              const std::string& scratch) {
  std::string zip, directory;
  auto u16 = [](std::string* s, uint16_t v) { s->append(reinterpret_cast<char*>(&v), 2); };
  auto u32 = [](std::string* s, uint32_t v) { s->append(reinterpret_cast<char*>(&v), 4); };
  for (const auto& [name, m] : arrays) {
    ASSERT_TRUE(WriteNpyFloat64(scratch, m).ok());
    std::ifstream in(scratch, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), {});
    const std::string member = name + ".npy";
    const uint32_t crc =
        crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    const uint32_t offset = static_cast<uint32_t>(zip.size());
    u32(&zip, 0x04034b50), u16(&zip, 20), u16(&zip, 0), u16(&zip, 0), u16(&zip, 0), u16(&zip, 0),
        u32(&zip, crc), u32(&zip, data.size()), u32(&zip, data.size()), u16(&zip, member.size()),
        u16(&zip, 0);
    zip += member + data;
    u32(&directory, 0x02014b50), u16(&directory, 20), u16(&directory, 20), u16(&directory, 0),
        u16(&directory, 0), u16(&directory, 0), u16(&directory, 0), u32(&directory, crc),
        u32(&directory, data.size()), u32(&directory, data.size()), u16(&directory, member.size()),
        u16(&directory, 0), u16(&directory, 0), u16(&directory, 0), u16(&directory, 0),
        u32(&directory, 0), u32(&directory, offset);
    directory += member;
  }
  const uint32_t start = static_cast<uint32_t>(zip.size());
  zip += directory;
  u32(&zip, 0x06054b50), u16(&zip, 0), u16(&zip, 0), u16(&zip, arrays.size()),
      u16(&zip, arrays.size()), u32(&zip, directory.size()), u32(&zip, start), u16(&zip, 0);
  std::ofstream(path, std::ios::binary) << zip;
}

// MATLAB v7.3 (HDF5 inside) through matio, as MATLAB's save -v7.3 would.
void WriteMat73(const std::string& path,
                const std::vector<std::pair<std::string, Eigen::MatrixXd>>& arrays) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT73);
  ASSERT_NE(mat, nullptr);
  for (const auto& [name, m] : arrays) {
    Eigen::MatrixXd copy = m;  // column-major, as MATLAB stores it
    size_t dims[2] = {static_cast<size_t>(m.rows()), static_cast<size_t>(m.cols())};
    matvar_t* var =
        Mat_VarCreate(name.c_str(), MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, copy.data(), 0);
    ASSERT_NE(var, nullptr);
    EXPECT_EQ(Mat_VarWrite(mat, var, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(var);
  }
  Mat_Close(mat);
}

TEST_F(MatrixFileTest, NpyNpzAndMatlab73ReadBackExactly) {
  const Eigen::MatrixXd a = Values(3, 4), b = Values(5, 2, 7);
  ASSERT_TRUE(WriteNpyFloat64(dir_ + "/betas.npy", a).ok());
  WriteNpz(dir_ + "/arrays.npz", {{"fmriTest", a}, {"stimTest", b}}, dir_ + "/scratch.npy");
  WriteMat73(dir_ + "/arrays73.mat", {{"fmriTest", a}, {"stimTest", b}});
  {
    std::ifstream in(dir_ + "/arrays73.mat", std::ios::binary);
    std::string head(520, '\0');
    in.read(head.data(), 520);
    ASSERT_EQ(head.substr(0, 10), "MATLAB 7.3");
    ASSERT_EQ(head.substr(512, 4), "\x89HDF") << "v7.3 is HDF5 after a 512-byte header";
  }
  for (const std::string file : {"arrays.npz", "arrays73.mat"}) {
    auto m = OpenMatrixFile(dir_ + "/" + file);
    ASSERT_TRUE(m.ok()) << file << ": " << m.status();
    EXPECT_THAT((*m)->VariableNames(), ElementsAre("fmriTest", "stimTest")) << file;
    auto read_a = (*m)->ReadMatrix("fmriTest");
    auto read_b = (*m)->ReadMatrix("stimTest");
    ASSERT_TRUE(read_a.ok() && read_b.ok()) << file;
    EXPECT_EQ(*read_a, a) << file;
    EXPECT_EQ(*read_b, b) << file;
    const absl::Status missing = (*m)->ReadMatrix("fmriTrn").status();
    EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(missing.message(), HasSubstr("fmriTest, stimTest")) << file;
  }
  auto npy = OpenMatrixFile(dir_ + "/betas.npy");
  ASSERT_TRUE(npy.ok()) << npy.status();
  EXPECT_THAT((*npy)->VariableNames(), ElementsAre("betas"));
  EXPECT_EQ(*(*npy)->ReadMatrix("betas"), a);
}

TEST_F(MatrixFileTest, BDataSelectsTheColumnsOfARegionByItsName) {
  // Six voxels (V1: 0-2, V2: 3-5) and a label column, four trials.
  const Eigen::MatrixXd data = Values(4, 7);
  const double nan = std::nan("");
  Eigen::MatrixXd values(4, 7);
  values << 1, 1, 1, 1, 1, 1, nan,      // VoxelData
      1, 1, 1, 0, 0, 0, nan,            // ROI_V1
      0, 0, 0, 1, 1, 1, nan,            // ROI_V2
      nan, nan, nan, nan, nan, nan, 1;  // Label
  ASSERT_TRUE(testing::WriteBData(dir_ + "/subject1.h5", data,
                                  {"VoxelData", "ROI_V1", "ROI_V2", "Label"}, values)
                  .ok());
  auto file = OpenMatrixFile(dir_ + "/subject1.h5");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT((*file)->VariableNames(), ElementsAre("VoxelData", "ROI_V1", "ROI_V2", "Label"));
  auto v1 = (*file)->ReadMatrix("ROI_V1");
  auto v2 = (*file)->ReadMatrix("ROI_V2");
  auto all = (*file)->ReadMatrix("VoxelData");
  auto label = (*file)->ReadMatrix("Label");
  ASSERT_TRUE(v1.ok() && v2.ok() && all.ok() && label.ok());
  EXPECT_EQ(*v1, data.leftCols(3));
  EXPECT_EQ(*v2, data.middleCols(3, 3));
  EXPECT_EQ(*all, data.leftCols(6));
  EXPECT_EQ(*label, data.rightCols(1));
  EXPECT_EQ((*file)->ReadMatrix("ROI_V4").status().code(), absl::StatusCode::kNotFound);
  // Not from a client: an upload's HDF5 is not parsed (libhdf5 can be made
  // to spin on a crafted file; see tests/fuzz/fuzz_matrix.cc).
  MatrixFileOptions upload;
  upload.uploaded = true;
  const absl::Status refused = OpenMatrixFile(dir_ + "/subject1.h5", upload).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("not bdpy BData"));

  // Metadata that does not fit the data is named as such.
  ASSERT_TRUE(
      testing::WriteBData(dir_ + "/bad.h5", data, {"VoxelData"}, values.topRows(1).leftCols(5))
          .ok());
  auto bad = OpenMatrixFile(dir_ + "/bad.h5");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bad.status().message(), HasSubstr("/metaData/value is 1 x 5"));
}

TEST_F(MatrixFileTest, NiftiVolumeToBetasToVolumeIsExact) {
  const int64_t nx = 5, ny = 4, nz = 3, trials = 7, grid = nx * ny * nz;
  auto volume_value = [](int64_t i) { return static_cast<float>(i % 97) * 0.5f - 3.0f; };
  auto in_mask = [](int64_t v) { return v % 3 != 1; };  // 40 of the 60 voxels
  ASSERT_TRUE(testing::WriteNiftiVolume(dir_ + "/betas.nii.gz", {nx, ny, nz, trials},
                                        NIFTI_TYPE_FLOAT32, volume_value)
                  .ok());
  ASSERT_TRUE(testing::WriteNiftiVolume(dir_ + "/mask.nii.gz", {nx, ny, nz}, NIFTI_TYPE_UINT8,
                                        [&](int64_t v) { return in_mask(v) ? 1 : 0; })
                  .ok());

  auto file = OpenMatrixFile(dir_ + "/betas.nii.gz", {dir_ + "/mask.nii.gz"});
  ASSERT_TRUE(file.ok()) << file.status();
  auto betas = (*file)->ReadMatrix("betas");
  ASSERT_TRUE(betas.ok()) << betas.status();
  ASSERT_EQ(betas->rows(), trials);
  ASSERT_EQ(betas->cols(), 40);
  // Column j is the j-th masked voxel in storage order (x fastest).
  for (int64_t t = 0; t < trials; ++t) {
    int64_t j = 0;
    for (int64_t v = 0; v < grid; ++v) {
      if (!in_mask(v)) continue;
      ASSERT_EQ((*betas)(t, j), volume_value(t * grid + v)) << t << ", voxel " << v;
      ++j;
    }
  }
  // Back to a volume on the mask's grid: the masked voxels exactly, 0 elsewhere.
  ASSERT_TRUE(WriteNiftiBetas(dir_ + "/back.nii", *betas, dir_ + "/mask.nii.gz").ok());
  auto back = OpenMatrixFile(dir_ + "/back.nii");  // no mask: every voxel
  ASSERT_TRUE(back.ok()) << back.status();
  auto whole = (*back)->ReadMatrix("betas");
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ(whole->rows(), trials);
  ASSERT_EQ(whole->cols(), grid);
  for (int64_t t = 0; t < trials; ++t)
    for (int64_t v = 0; v < grid; ++v)
      ASSERT_EQ((*whole)(t, v), in_mask(v) ? volume_value(t * grid + v) : 0.0) << t << ", " << v;
  auto again = OpenMatrixFile(dir_ + "/back.nii", {dir_ + "/mask.nii.gz"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->ReadMatrix("betas"), *betas);

  // A mask of another grid, and betas that do not fit the mask, are refused.
  ASSERT_TRUE(
      testing::WriteNiftiVolume(dir_ + "/small_mask.nii", {4, 4, 3}, NIFTI_TYPE_UINT8, [](int64_t) {
        return 1;
      }).ok());
  EXPECT_EQ(OpenMatrixFile(dir_ + "/betas.nii.gz", {dir_ + "/small_mask.nii"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteNiftiBetas(dir_ + "/x.nii", betas->leftCols(10), dir_ + "/mask.nii.gz").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MatrixFileTest, OtherFilesAreRefusedWithTheFormatsThatAreRead) {
  std::ofstream(dir_ + "/notes.txt") << "not a matrix file";
  auto text = OpenMatrixFile(dir_ + "/notes.txt");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("NIfTI"));
  EXPECT_EQ(OpenMatrixFile(dir_ + "/missing.mat").status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir_ + "/cut.nii.gz") << "\x1f\x8b garbage";
  EXPECT_FALSE(OpenMatrixFile(dir_ + "/cut.nii.gz").ok());
}

// digit69 rewritten as .npz and as MATLAB v7.3 (same variable names) loads
// as the same dataset: a description may name either as its file.
TEST_F(MatrixFileTest, Digit69AsNpzAndAsMatlab73LoadsAsTheSameDataset) {
  const DatasetOptions options = testing::Digit69Options();
  auto original = LoadDataset(options);
  ASSERT_TRUE(original.ok()) << original.status();
  auto mat = MatFile::Open(options.file);
  ASSERT_TRUE(mat.ok());
  std::vector<std::pair<std::string, Eigen::MatrixXd>> variables;
  for (const std::string name :
       {"fmriTrn", "stimTrn", "labelTrn", "fmriTest", "stimTest", "labelTest"}) {
    auto m = (*mat)->ReadMatrix(name);
    ASSERT_TRUE(m.ok()) << name;
    variables.emplace_back(name, *m);
  }
  WriteNpz(dir_ + "/digit69.npz", variables, dir_ + "/scratch.npy");
  WriteMat73(dir_ + "/digit69_v73.mat", variables);
  for (const std::string file : {"digit69.npz", "digit69_v73.mat"}) {
    DatasetOptions o = options;
    o.file = dir_ + "/" + file;
    auto loaded = LoadDataset(o);
    ASSERT_TRUE(loaded.ok()) << file << ": " << loaded.status();
    EXPECT_EQ(loaded->train.betas, original->train.betas) << file;
    EXPECT_EQ(loaded->train.stimuli, original->train.stimuli) << file;
    EXPECT_EQ(loaded->test.betas, original->test.betas) << file;
    EXPECT_EQ(loaded->test.stimuli, original->test.stimuli) << file;
    EXPECT_EQ(loaded->test.labels, original->test.labels) << file;
  }
}

// digit69 as a lab's files, one per variable or two: NIfTI betas with a
// mask, BData test betas and labels, PNG folders of stimuli, .npy labels,
// named by a description's sources. It loads as the .mat does.
TEST_F(MatrixFileTest, Digit69FromNiftiBDataPngFoldersAndNpyLoadsAsItsMatFile) {
  auto original = LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(original.ok()) << original.status();
  auto path = testing::WriteDigit69AsLabFiles(dir_);
  ASSERT_TRUE(path.ok()) << path.status();
  auto description = spec::ReadDatasetDescription(*path);
  ASSERT_TRUE(description.ok()) << description.status();
  auto options = worker::ToDatasetOptions(*description, spec::DescriptionDataRoot(*path, ""));
  ASSERT_TRUE(options.ok()) << options.status();
  auto loaded = LoadDataset(*options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->pixel_max, 255);  // 8-bit PNGs: white is 255
  EXPECT_EQ(loaded->train.betas, original->train.betas);
  EXPECT_EQ(loaded->test.betas, original->test.betas);
  EXPECT_EQ(loaded->train.labels, original->train.labels);
  EXPECT_EQ(loaded->test.labels, original->test.labels);
  ASSERT_EQ(loaded->train.stimuli.rows(), original->train.stimuli.rows());
  EXPECT_LT((loaded->train.stimuli - original->train.stimuli).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LT((loaded->test.stimuli - original->test.stimuli).cwiseAbs().maxCoeff(), 1e-6);

  // The same folders read in MATLAB's layout hold the same images.
  DatasetOptions column_major = *options;
  column_major.layout = ImageLayout::kColumnMajor;
  auto transposed = LoadDataset(column_major);
  ASSERT_TRUE(transposed.ok()) << transposed.status();
  EXPECT_EQ(transposed->train.stimuli, loaded->train.stimuli);

  // Errors name the source and what it lacks; an upload has no sources.
  DatasetOptions missing = *options;
  missing.test.betas = "held_out:ROI_V1";
  EXPECT_THAT(LoadDataset(missing).status().message(), HasSubstr("variable 'ROI_V1' not in"));
  missing = *options;
  missing.sources.erase("labels");
  EXPECT_THAT(LoadDataset(missing).status().message(), HasSubstr("names no source 'labels'"));
  missing = *options;
  missing.sources["bold"].mask.clear();  // every voxel of the grid
  EXPECT_THAT(LoadDataset(missing).status().message(), HasSubstr("voxels"));
  DatasetOptions uploaded = *options;
  uploaded.uploaded = true;
  EXPECT_EQ(LoadDataset(uploaded).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace v2p::core
