// Runs `promtool check metrics` (Debian package `prometheus`, installed by
// scripts/install-deps.sh) on an exposition text. A missing promtool is a failure,
// not a skip: CI installs it.
#pragma once

#include <string>

namespace embedrt::test {

/// True when promtool accepts `text` without a complaint (lint problems included);
/// otherwise `complaint` holds what it said (or that it could not run).
bool promtool_accepts(const std::string& text, std::string& complaint);

} // namespace embedrt::test
