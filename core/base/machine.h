// What a benchmark or a written result says about the machine it ran on.
#ifndef V2P_CORE_BASE_MACHINE_H_
#define V2P_CORE_BASE_MACHINE_H_

#include <string>

namespace v2p::core {

// The "model name" line of /proc/cpuinfo, or "unknown CPU".
std::string CpuModelName();

}  // namespace v2p::core

#endif  // V2P_CORE_BASE_MACHINE_H_
