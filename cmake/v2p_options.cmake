# One INTERFACE target carries the language standard and warnings; every
# project target links it instead of setting global flags.
add_library(v2p_options INTERFACE)
add_library(v2p::options ALIAS v2p_options)
target_compile_features(v2p_options INTERFACE cxx_std_17)
target_compile_options(v2p_options INTERFACE
  -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare)
target_include_directories(v2p_options INTERFACE "${CMAKE_SOURCE_DIR}")
target_compile_definitions(v2p_options INTERFACE V2P_VERSION="${PROJECT_VERSION}")
