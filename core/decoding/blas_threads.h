// How many threads one BLAS call may use. A server gets its parallelism
// from concurrent requests, so it sets 1; the default is OpenBLAS's own.
#ifndef V2P_CORE_DECODING_BLAS_THREADS_H_
#define V2P_CORE_DECODING_BLAS_THREADS_H_

namespace v2p::core {

void SetBlasThreads(int threads);
int BlasThreads();

// Sets the BLAS thread count for its lifetime and restores the previous one
// after; e.g. 1 while a fit runs many small solves on threads of its own.
// The count is process-wide: a worker serving with 1 BLAS thread is not
// disturbed by a scope that asks for 1.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int threads) : previous_(BlasThreads()) { SetBlasThreads(threads); }
  ~ScopedBlasThreads() { SetBlasThreads(previous_); }
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int previous_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_BLAS_THREADS_H_
