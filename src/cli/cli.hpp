// The `embedrt` command line: `embedrt embed ...` (the main job), `embedrt config ...`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace embedrt::cli {

/// Runs the command line `args` (without the program name). Returns the exit code:
/// 0 success, 1 some lines failed, 2 usage or config error (nothing sent), 3 I/O
/// error, 130/143 interrupted by SIGINT/SIGTERM (see embed_job.hpp).
int main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

} // namespace embedrt::cli
