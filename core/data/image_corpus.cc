#include "core/data/image_corpus.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/data/mat_file.h"
#include "opencv2/imgproc.hpp"

namespace v2p::core {
namespace {

// Whole file through zlib, which reads plain files unchanged.
absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path) {
  if (!std::filesystem::exists(path))
    return absl::NotFoundError(absl::StrCat("no such file: ", path));
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return absl::UnavailableError(absl::StrCat("cannot open ", path));
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) return absl::DataLossError(absl::StrCat(path, ": bad gzip data"));
  return out;
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

LabeledImages FromColumnMajor(const Eigen::MatrixXd& rows, int h, int w, double max_value) {
  LabeledImages out;
  out.shape = {h, w, 1};
  const Eigen::MatrixXd row_major = ToRowMajorImages(rows, out.shape, ImageLayout::kColumnMajor);
  out.images = (row_major / max_value).cast<float>();
  return out;
}

}  // namespace

absl::Status LabeledImages::Append(const LabeledImages& other) {
  if (size() > 0 && !(other.shape == shape))
    return absl::InvalidArgumentError("cannot append images of another size");
  if (size() == 0) shape = other.shape;
  Eigen::MatrixXf joined(images.rows() + other.images.rows(), other.images.cols());
  if (images.rows() > 0) joined.topRows(images.rows()) = images;
  joined.bottomRows(other.images.rows()) = other.images;
  images = std::move(joined);
  for (int label : other.labels) labels.push_back(label + num_classes);
  class_names.insert(class_names.end(), other.class_names.begin(), other.class_names.end());
  num_classes += other.num_classes;
  return absl::OkStatus();
}

LabeledImages LabeledImages::Slice(int begin, int end) const {
  LabeledImages out;
  out.shape = shape;
  out.images = images.middleRows(begin, end - begin);
  out.labels.assign(labels.begin() + begin, labels.begin() + end);
  out.num_classes = num_classes;
  out.class_names = class_names;
  return out;
}

absl::StatusOr<LabeledImages> ReadIdx(const std::string& images_path,
                                      const std::string& labels_path,
                                      const std::string& class_prefix) {
  ASSIGN_OR_RETURN(const std::string images, ReadMaybeGzip(images_path));
  ASSIGN_OR_RETURN(const std::string labels, ReadMaybeGzip(labels_path));
  if (images.size() < 16 || BigEndian32(images, 0) != 2051)
    return absl::DataLossError(absl::StrCat(images_path, ": not an IDX image file (magic 2051)"));
  if (labels.size() < 8 || BigEndian32(labels, 0) != 2049)
    return absl::DataLossError(absl::StrCat(labels_path, ": not an IDX label file (magic 2049)"));
  const int64_t n = BigEndian32(images, 4);
  const int h = static_cast<int>(BigEndian32(images, 8));
  const int w = static_cast<int>(BigEndian32(images, 12));
  if (h <= 0 || w <= 0 || h > 4096 || w > 4096 ||
      images.size() != 16 + static_cast<size_t>(n) * h * w)
    return absl::DataLossError(absl::StrCat(images_path, ": size does not match its header (", n,
                                            " x ", h, " x ", w, ")"));
  if (BigEndian32(labels, 4) != n || labels.size() != 8 + n)
    return absl::DataLossError(
        absl::StrCat(labels_path, ": label count differs from the ", n, " images"));
  LabeledImages out;
  out.shape = {h, w, 1};
  out.images.resize(n, h * w);
  const auto* px = reinterpret_cast<const unsigned char*>(images.data() + 16);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < h * w; ++j) out.images(i, j) = px[i * h * w + j] / 255.0f;
  int max_label = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int label = static_cast<unsigned char>(labels[8 + i]);
    out.labels.push_back(label);
    max_label = std::max(max_label, label);
  }
  out.num_classes = max_label + 1;
  for (int c = 0; c < out.num_classes; ++c)
    out.class_names.push_back(absl::StrCat(class_prefix, ":", c));
  return out;
}

absl::StatusOr<LabeledImages> ReadOlivetti(const std::string& path) {
  ASSIGN_OR_RETURN(auto mat, MatFile::Open(path));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd faces, mat->ReadMatrix("faces"));
  if (faces.rows() != 4096)
    return absl::DataLossError(
        absl::StrCat(path, ": `faces` has ", faces.rows(), " rows, expected 4096 (64x64)"));
  LabeledImages out = FromColumnMajor(faces.transpose(), 64, 64, 255.0);
  for (int i = 0; i < faces.cols(); ++i) out.labels.push_back(i / 10);
  out.num_classes = static_cast<int>((faces.cols() + 9) / 10);
  for (int c = 0; c < out.num_classes; ++c) out.class_names.push_back(absl::StrCat("olivetti:", c));
  return out;
}

absl::StatusOr<LabeledImages> ReadBrainsCharacters(const std::string& path) {
  static constexpr const char* kLetters[] = {"A", "B", "I", "N", "R", "S"};
  ASSIGN_OR_RETURN(auto mat, MatFile::Open(path));
  LabeledImages out;
  out.shape = {56, 56, 1};
  out.num_classes = 6;
  for (const char* letter : kLetters) out.class_names.push_back(absl::StrCat("brains:", letter));
  for (const char* part : {"stimTrn", "stimVal"}) {
    ASSIGN_OR_RETURN(const Eigen::MatrixXd stim, mat->ReadMatrix(part));
    if (stim.cols() != 56 * 56 || stim.rows() % 6 != 0)
      return absl::DataLossError(absl::StrCat(path, ": `", part, "` is not n x 56 x 56"));
    LabeledImages p = FromColumnMajor(stim, 56, 56, 255.0);
    p.num_classes = 6;
    p.class_names = out.class_names;
    const int per_class = static_cast<int>(stim.rows() / 6);
    for (int i = 0; i < stim.rows(); ++i) p.labels.push_back(i / per_class);
    Eigen::MatrixXf joined(out.images.rows() + p.images.rows(), 56 * 56);
    joined << out.images, p.images;
    out.images = std::move(joined);
    out.labels.insert(out.labels.end(), p.labels.begin(), p.labels.end());
  }
  return out;
}

LabeledImages ResizeImages(const LabeledImages& in, int size) {
  if (in.shape.height == size && in.shape.width == size) return in;
  LabeledImages out = in;
  out.shape = {size, size, in.shape.channels};
  // Same channels on both sides, so the resize cannot fail.
  out.images = *ResizeImages(in.images, in.shape, out.shape);
  return out;
}

void SplitEveryKth(const LabeledImages& all, int k, LabeledImages* train, LabeledImages* test) {
  std::vector<int> seen(all.num_classes, 0), tr, te;
  for (int i = 0; i < all.size(); ++i) (++seen[all.labels[i]] % k == 0 ? te : tr).push_back(i);
  for (auto [idx, out] : {std::pair{&tr, train}, std::pair{&te, test}}) {
    out->shape = all.shape;
    out->num_classes = all.num_classes;
    out->class_names = all.class_names;
    out->images.resize(static_cast<Eigen::Index>(idx->size()), all.images.cols());
    out->labels.clear();
    for (size_t r = 0; r < idx->size(); ++r) {
      out->images.row(static_cast<Eigen::Index>(r)) = all.images.row((*idx)[r]);
      out->labels.push_back(all.labels[(*idx)[r]]);
    }
  }
}

absl::StatusOr<FeatureCorpus> LoadFeatureCorpus(const std::string& data_root,
                                                const std::string& fashion_dir, int size,
                                                int max_fashion_train) {
  FeatureCorpus corpus;
  auto add = [&](const std::string& name, const LabeledImages& tr,
                 const LabeledImages& te) -> absl::Status {
    FeatureCorpus::Source s{name, corpus.train.num_classes, 0, tr.size(), te.size()};
    RETURN_IF_ERROR(corpus.train.Append(ResizeImages(tr, size)));
    RETURN_IF_ERROR(corpus.test.Append(ResizeImages(te, size)));
    s.end_class = corpus.train.num_classes;
    corpus.sources.push_back(s);
    return absl::OkStatus();
  };
  const std::string corpora = data_root + "/corpora";
  {
    ASSIGN_OR_RETURN(LabeledImages mnist,
                     ReadIdx(corpora + "/mnist/mnist-10k-images-idx3-ubyte",
                             corpora + "/mnist/mnist-10k-labels-idx1-ubyte", "mnist"));
    LabeledImages tr, te;
    SplitEveryKth(mnist, 5, &tr, &te);
    RETURN_IF_ERROR(add("mnist", tr, te));
  }
  if (!fashion_dir.empty() && std::filesystem::exists(fashion_dir)) {
    ASSIGN_OR_RETURN(LabeledImages tr,
                     ReadIdx(fashion_dir + "/train-images-idx3-ubyte.gz",
                             fashion_dir + "/train-labels-idx1-ubyte.gz", "fashion"));
    ASSIGN_OR_RETURN(LabeledImages te,
                     ReadIdx(fashion_dir + "/t10k-images-idx3-ubyte.gz",
                             fashion_dir + "/t10k-labels-idx1-ubyte.gz", "fashion"));
    if (max_fashion_train > 0 && tr.size() > max_fashion_train) tr = tr.Slice(0, max_fashion_train);
    RETURN_IF_ERROR(add("fashion-mnist", tr, te));
  }
  {
    ASSIGN_OR_RETURN(LabeledImages brains,
                     ReadBrainsCharacters(corpora + "/brains_characters/brains_stimuli.mat"));
    RETURN_IF_ERROR(add("brains", brains.Slice(0, 288), brains.Slice(288, brains.size())));
  }
  {
    ASSIGN_OR_RETURN(LabeledImages faces,
                     ReadOlivetti(corpora + "/olivetti_faces/olivettifaces.mat"));
    LabeledImages tr, te;
    SplitEveryKth(faces, 5, &tr, &te);
    RETURN_IF_ERROR(add("olivetti", tr, te));
  }
  return corpus;
}

}  // namespace v2p::core
