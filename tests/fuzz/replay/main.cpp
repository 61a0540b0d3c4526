// Corpus replay for the normal (g++) build: feeds the empty input and then every file
// named on the command line (directories: every regular file in them, sorted) to the
// harness's LLVMFuzzerTestOneInput, so the seed corpus and every past finding run in
// ctest (fuzz.<target>) without clang or libFuzzer. A violated property aborts.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool run_file(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in) {
    std::cerr << "cannot read " << file << "\n";
    return false;
  }
  std::string bytes{std::istreambuf_iterator<char>{in},
                    std::istreambuf_iterator<char>{}};
  // A copy of its own, so a read past the end is caught by ASan builds.
  std::vector<uint8_t> input(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(input.data(), input.size());
  return true;
}

} // namespace

int main(int argc, char** argv) {
  LLVMFuzzerTestOneInput(nullptr, 0);
  size_t count = 1;
  for (int i = 1; i < argc; ++i) {
    fs::path arg{argv[i]};
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (auto& entry : fs::directory_iterator{arg})
        if (entry.is_regular_file())
          files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (auto& file : files) {
        if (!run_file(file))
          return 1;
        ++count;
      }
    } else if (fs::exists(arg, ec)) {
      if (!run_file(arg))
        return 1;
      ++count;
    } else {
      // A target without a seed corpus yet still runs the empty input.
      std::cerr << "note: no corpus at " << arg << "\n";
    }
  }
  std::cout << "replayed " << count << " inputs\n";
  return 0;
}
