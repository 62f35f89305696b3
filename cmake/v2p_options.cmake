# One INTERFACE target carries the language standard and warnings; every
# project target links it instead of setting global flags.
add_library(v2p_options INTERFACE)
add_library(v2p::options ALIAS v2p_options)
target_compile_features(v2p_options INTERFACE cxx_std_17)
target_compile_options(v2p_options INTERFACE
  -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare)
target_include_directories(v2p_options INTERFACE "${CMAKE_SOURCE_DIR}")
target_compile_definitions(v2p_options INTERFACE V2P_VERSION="${PROJECT_VERSION}")

# Eigen's matrix products go to OpenBLAS in every file that links this
# target (every project target does, directly or through core_base, rpc,
# store, server or testing). Set per file, EIGEN_USE_BLAS breaks the
# one-definition rule: Eigen's BLAS-backed GEMM and its own kernel are one
# symbol, and the linker keeps whichever object it meets first
# (smr_fit_bench measured SMR's objective on Eigen's single-threaded kernel
# although smr.cc was built with the definition). CTest
# build.eigen_blas_everywhere checks every project source file has it.
find_library(V2P_OPENBLAS openblas REQUIRED)
target_compile_definitions(v2p_options INTERFACE EIGEN_USE_BLAS)
target_link_libraries(v2p_options INTERFACE ${V2P_OPENBLAS})
