// Labelled image corpora for training feature networks and generators:
// IDX files (MNIST, Fashion-MNIST; plain or gzip), the Olivetti faces and
// the BRAINS characters (MATLAB), all brought to one square grey size.
// Pixels are float in [0, 1], one row-major image per row.
#ifndef V2P_CORE_DATA_IMAGE_CORPUS_H_
#define V2P_CORE_DATA_IMAGE_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

struct LabeledImages {
  ImageShape shape;
  Eigen::MatrixXf images;   // n x shape.num_pixels()
  std::vector<int> labels;  // n class indices
  int num_classes = 0;
  // Name of each class, e.g. "mnist:6", "fashion:3", "olivetti:12".
  std::vector<std::string> class_names;

  int size() const { return static_cast<int>(labels.size()); }
  // Appends `other` with its labels shifted past this set's classes.
  // INVALID_ARGUMENT when the shapes differ.
  absl::Status Append(const LabeledImages& other);
  // Rows `begin`..`end` (exclusive), keeping all classes.
  LabeledImages Slice(int begin, int end) const;
};

// IDX images (magic 2051) and labels (magic 2049), optionally gzip
// compressed (detected from the content). DATA_LOSS for malformed files.
absl::StatusOr<LabeledImages> ReadIdx(const std::string& images_path,
                                      const std::string& labels_path,
                                      const std::string& class_prefix);

// Olivetti faces (`faces`, 4096 x 400, column-major 64x64; person = i/10).
absl::StatusOr<LabeledImages> ReadOlivetti(const std::string& path);

// BRAINS characters: `stimTrn` (288) then `stimVal` (72), 56x56; classes
// A B I N R S in blocks within each part.
absl::StatusOr<LabeledImages> ReadBrainsCharacters(const std::string& path);

// Bilinear (area when shrinking) resize of every image to size x size.
LabeledImages ResizeImages(const LabeledImages& in, int size);

// Splits each class deterministically: every `k`-th image of a class (the
// (k-1)-th, 2k-1-th, ...) goes to test, so test gets ~1/k of each class.
void SplitEveryKth(const LabeledImages& all, int k, LabeledImages* train, LabeledImages* test);

// The feature-network corpus: MNIST, Fashion-MNIST, BRAINS characters and
// Olivetti faces at size x size, as one set of classes. `data_root` is
// ../shared/data; `fashion_dir` the Debian dataset-fashion-mnist folder
// (skipped with a warning in `missing` when absent). Test split: MNIST every
// 5th image per class, Fashion-MNIST its own t10k files, BRAINS its
// validation part, Olivetti every 5th face per person. `max_fashion_train`
// caps the 60,000 Fashion-MNIST training images (0: all).
struct FeatureCorpus {
  LabeledImages train;
  LabeledImages test;
  // Per source, the half-open class range in the combined labels.
  struct Source {
    std::string name;
    int first_class = 0;
    int end_class = 0;
    int num_train = 0;
    int num_test = 0;
  };
  std::vector<Source> sources;
};
absl::StatusOr<FeatureCorpus> LoadFeatureCorpus(const std::string& data_root,
                                                const std::string& fashion_dir, int size,
                                                int max_fashion_train);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_IMAGE_CORPUS_H_
