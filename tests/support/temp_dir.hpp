// A fresh directory for one test, removed with everything in it when the object
// goes; and reading a whole file back. Shared by every test suite.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace microscape::testing {

struct TempDir {
    TempDir() {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() / ("ms-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // The path of name inside, as a string.
    std::string operator/(const std::string& name) const { return (path / name).string(); }

    std::filesystem::path path;
};

inline std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace microscape::testing
