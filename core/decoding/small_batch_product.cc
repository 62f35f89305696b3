#include "core/decoding/small_batch_product.h"

#include <cstring>

namespace v2p::core {
namespace {

// Eight floats: one AVX register where the CPU has it (the x86-64-v3 clone
// below), two SSE registers otherwise. GCC lowers the arithmetic to
// whatever the target offers.
typedef float V8 __attribute__((vector_size(32)));

inline V8 Load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float Sum(V8 v) {
  float s = 0;
  for (int i = 0; i < 8; ++i) s += v[i];
  return s;
}

// out(r, c) = dot(x row r, w column c) for C columns and R rows; xt holds
// X's rows contiguously (n floats each), w W's columns (n floats each).
template <int C, int R>
inline void Block(const float* const* w, const float* const* xt, int n, float* out[R][C]) {
  V8 acc[C][R] = {};
  const int n8 = n - n % 8;
  // Fully unrolled so that the C x R accumulators live in registers.
  for (int v = 0; v < n8; v += 8) {
    V8 wv[C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) wv[c] = Load(w[c] + v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const V8 xv = Load(xt[r] + v);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[c][r] += wv[c] * xv;
    }
  }
  for (int c = 0; c < C; ++c) {
    for (int r = 0; r < R; ++r) {
      float s = Sum(acc[c][r]);
      for (int v = n8; v < n; ++v) s += w[c][v] * xt[r][v];
      *out[r][c] = s;
    }
  }
}

template <int C, int R>
void Rows(const float* const* w, const float* xt, int n, int row, float* y, int k) {
  const float* x[R];
  float* out[R][C];
  for (int r = 0; r < R; ++r) {
    x[r] = xt + static_cast<size_t>(row + r) * n;
    for (int c = 0; c < C; ++c) out[r][c] = y + static_cast<size_t>(c) * k + row + r;
  }
  Block<C, R>(w, x, n, out);
}

// Columns [c0, c0 + C) of W against every row; y is column-major k x m.
template <int C>
void Columns(const float* w0, int n, const float* xt, int k, float* y) {
  const float* w[C];
  for (int c = 0; c < C; ++c) w[c] = w0 + static_cast<size_t>(c) * n;
  int row = 0;
  for (; row + 4 <= k; row += 4) Rows<C, 4>(w, xt, n, row, y, k);
  switch (k - row) {
    case 3: Rows<C, 3>(w, xt, n, row, y, k); break;
    case 2: Rows<C, 2>(w, xt, n, row, y, k); break;
    case 1: Rows<C, 1>(w, xt, n, row, y, k); break;
    default: break;
  }
}

// flatten inlines the helpers into each clone, so they too are compiled
// for the clone's instruction set.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("arch=x86-64-v3", "default"), flatten))
#endif
void Product(const float* w, int n, int m, const float* xt, int k, float* y) {
  int c = 0;
  for (; c + 2 <= m; c += 2) {
    Columns<2>(w + static_cast<size_t>(c) * n, n, xt, k, y + static_cast<size_t>(c) * k);
  }
  if (c < m) Columns<1>(w + static_cast<size_t>(c) * n, n, xt, k, y + static_cast<size_t>(c) * k);
}

}  // namespace

Eigen::MatrixXf SmallBatchProduct(const Eigen::MatrixXf& x, const Eigen::MatrixXf& weights) {
  const Eigen::MatrixXf xt = x.transpose();  // n x k: each row of x contiguous
  Eigen::MatrixXf y(x.rows(), weights.cols());
  Product(weights.data(), static_cast<int>(weights.rows()), static_cast<int>(weights.cols()),
          xt.data(), static_cast<int>(x.rows()), y.data());
  return y;
}

}  // namespace v2p::core
