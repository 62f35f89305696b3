// A driver for the fuzz harnesses without libFuzzer, so that the ordinary
// build and CI run a short smoke of each (CTest fuzz.smoke_*): every seed
// file given, then --runs deterministic mutations of them (bytes flipped,
// inserted, deleted, set to boundary values; truncations and splices).
// The real fuzzing, coverage-guided and under sanitizers, is
// scripts/fuzz.sh.
//   fuzz_smoke_<harness> --runs=N SEED_FILE_OR_DIR...
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Mutate(std::string s, const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:  // insert a random byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)),
                 static_cast<char>(rng()));
        break;
      case 2:  // delete a run
        if (!s.empty()) {
          const size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<size_t>(16, s.size() - at)));
        }
        break;
      case 3: {  // a boundary value over 4 bytes
        static const uint32_t kValues[] = {0,      1,      0x7F,       0xFF,
                                           0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF};
        if (s.size() >= 4) {
          const uint32_t v = kValues[rng() % 8];
          std::memcpy(&s[pick(s.size() - 3)], &v, 4);
        }
        break;
      }
      case 4:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      default: {  // splice another seed's tail
        const std::string& other = seeds[pick(seeds.size())];
        s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
      }
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 1000;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--runs=", 0) == 0) {
      runs = std::stol(arg.substr(7));
      continue;
    }
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg)) files.push_back(e.path());
    } else {
      files.push_back(arg);
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  for (const std::string& seed : seeds) Run(seed);
  std::mt19937_64 rng(1);
  for (long r = 0; r < runs; ++r) Run(Mutate(seeds[r % seeds.size()], seeds, rng));
  std::printf("fuzz smoke: %zu seeds and %ld mutations, no crash\n", seeds.size(), runs);
  return 0;
}
