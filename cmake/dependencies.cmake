# Every dependency comes from a Debian 12 package (scripts/install_deps.sh).
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(ZLIB REQUIRED)
# Protobuf 3.21 ships no CMake config on Debian: module mode.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs)
find_package(Torch REQUIRED)
find_package(GTest REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(MATIO REQUIRED IMPORTED_TARGET matio)
# bdpy BData files (HDF5) and NIfTI-1/2 beta volumes (core/data/matrix_file.h).
find_package(HDF5 REQUIRED COMPONENTS C)
# Debian's NIFTIConfig.cmake names libraries under /usr/lib that live in the
# multiarch directory, so libnifti2 is found directly.
find_path(NIFTI_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti REQUIRED)
find_library(NIFTI2_LIBRARY nifti2 REQUIRED)
find_library(NIFTI_ZNZ_LIBRARY znz REQUIRED)
add_library(v2p_nifti INTERFACE)
target_include_directories(v2p_nifti INTERFACE ${NIFTI_INCLUDE_DIR})
target_link_libraries(v2p_nifti INTERFACE ${NIFTI2_LIBRARY} ${NIFTI_ZNZ_LIBRARY} ZLIB::ZLIB m)
add_library(v2p::nifti ALIAS v2p_nifti)

set(V2P_GRPC_PROTO_DIR "/usr/share/grpc-proto" CACHE PATH
    "Debian grpc-proto: grpc/health/v1/health.proto")
