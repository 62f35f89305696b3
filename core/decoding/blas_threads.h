// How many threads one BLAS call may use. A server gets its parallelism
// from concurrent requests, so it sets 1; the default is OpenBLAS's own.
#ifndef V2P_CORE_DECODING_BLAS_THREADS_H_
#define V2P_CORE_DECODING_BLAS_THREADS_H_

namespace v2p::core {

void SetBlasThreads(int threads);

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_BLAS_THREADS_H_
