#include "core/decoding/packed_weights.h"

#include <algorithm>
#include <cstring>

// The vector helpers below are inlined (flatten); no vector crosses a
// function boundary, so GCC's note that passing one changes the ABI
// without AVX does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace v2p::core {
namespace {

constexpr int kPanel = PackedWeights::kPanel;

// Eight floats: one AVX register in the x86-64-v3 clone below, two SSE
// registers otherwise. GCC lowers the arithmetic to what the target has.
typedef float V8 __attribute__((vector_size(32)));

inline V8 Load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Rows [0, R) of x (each row contiguous, n floats) times one panel; the
// R x 16 sums go to out (row r, column j at out[r * kPanel + j]).
template <int R>
inline void PanelBlock(const float* panel, int n, const float* const* x, float* out) {
  V8 acc[R][2] = {};
#pragma GCC unroll 2
  for (int v = 0; v < n; ++v) {
    const V8 w0 = Load(panel + v * kPanel);
    const V8 w1 = Load(panel + v * kPanel + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const float s = x[r][v];
      const V8 xv = {s, s, s, s, s, s, s, s};
      acc[r][0] += xv * w0;
      acc[r][1] += xv * w1;
    }
  }
  for (int r = 0; r < R; ++r) {
    std::memcpy(out + r * kPanel, &acc[r][0], sizeof(V8));
    std::memcpy(out + r * kPanel + 8, &acc[r][1], sizeof(V8));
  }
}

template <int R>
inline void Block(const float* panel, int len, const float* xt, int n, int row, int v0,
                  float* out) {
  const float* x[R];
  for (int r = 0; r < R; ++r) x[r] = xt + static_cast<size_t>(row + r) * n + v0;
  PanelBlock<R>(panel, len, x, out);
}

// y (k x m, column-major, zeroed) += rows of xt (k rows of n floats) times
// the panels. The inputs are taken in slices of kSlice so that a slice of
// a panel (kSlice x 16 floats) and of six rows of x stay in L1 together;
// each panel slice is read from memory once. flatten inlines the helpers
// into each clone, so they too are compiled for its instruction set. GCC
// only: clang (the sanitizer and fuzz builds) refuses target_clones with
// flatten, and builds one default version.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default"), flatten))
#endif
void Product(const float* packed, int n, int m, const float* xt, int k, float* y) {
  constexpr int kRows = 6;
  constexpr int kSlice = 384;
  float out[kRows * kPanel];
  for (int v0 = 0; v0 < n; v0 += kSlice) {
    const int len = std::min(kSlice, n - v0);
    for (int c0 = 0; c0 < m; c0 += kPanel) {
      const float* panel = packed + (static_cast<size_t>(c0 / kPanel) * n + v0) * kPanel;
      const int width = std::min(kPanel, m - c0);
      // Rows in blocks of up to six, as even as they go (8 rows are 4 + 4,
      // not 6 + 2: a small block costs as many loads of W as a full one).
      const int blocks = (k + kRows - 1) / kRows;
      for (int b = 0, row = 0; b < blocks; ++b) {
        const int rows = (k - row) / (blocks - b);
        switch (rows) {
          case 6:
            Block<6>(panel, len, xt, n, row, v0, out);
            break;
          case 5:
            Block<5>(panel, len, xt, n, row, v0, out);
            break;
          case 4:
            Block<4>(panel, len, xt, n, row, v0, out);
            break;
          case 3:
            Block<3>(panel, len, xt, n, row, v0, out);
            break;
          case 2:
            Block<2>(panel, len, xt, n, row, v0, out);
            break;
          default:
            Block<1>(panel, len, xt, n, row, v0, out);
            break;
        }
        for (int r = 0; r < rows; ++r) {
          for (int j = 0; j < width; ++j) {
            y[static_cast<size_t>(c0 + j) * k + row + r] += out[r * kPanel + j];
          }
        }
        row += rows;
      }
    }
  }
}

}  // namespace

PackedWeights::PackedWeights(const Eigen::MatrixXf& weights)
    : n_(static_cast<int>(weights.rows())), m_(static_cast<int>(weights.cols())) {
  const int panels = (m_ + kPanel - 1) / kPanel;
  packed_.assign(static_cast<size_t>(panels) * n_ * kPanel, 0.0f);
  for (int c = 0; c < m_; ++c) {
    for (int v = 0; v < n_; ++v) packed_[Offset(v, c)] = weights(v, c);
  }
}

Eigen::MatrixXf PackedWeights::Unpack() const {
  Eigen::MatrixXf w(n_, m_);
  for (int c = 0; c < m_; ++c) {
    for (int v = 0; v < n_; ++v) w(v, c) = packed_[Offset(v, c)];
  }
  return w;
}

Eigen::MatrixXf PackedWeights::LeftMultiply(const Eigen::MatrixXf& x) const {
  const Eigen::MatrixXf xt = x.transpose();  // n x k: each row of x contiguous
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(x.rows(), m_);
  if (x.rows() == 0 || m_ == 0) return y;
  Product(packed_.data(), n_, m_, xt.data(), static_cast<int>(x.rows()), y.data());
  return y;
}

}  // namespace v2p::core
