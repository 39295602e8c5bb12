// Content-addressed media store under <dataDir>/media: files named by their
// SHA-256 (media/ab/abcdef…), written through a temporary file that is hashed
// while it is written and renamed into place. Safe to use from several threads:
// each upload has its own temporary file and the final rename is atomic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <string>

#include "microscape/controller/security.hpp"
#include "microscape/core/result.hpp"

namespace microscape::controller {

class MediaStore {
  public:
    explicit MediaStore(std::filesystem::path root);  // creates root and root/tmp

    struct Stored {
        std::string sha256;
        std::uint64_t sizeBytes = 0;
        std::string head;               // first bytes, for content sniffing
        std::filesystem::path tmpPath;  // still to be committed or discarded
    };

    // Streams `in` into a temporary file, hashing as it goes. Fails with TooLarge as
    // soon as more than maxBytes arrive (the partial file is removed).
    Result<Stored> receive(std::istream& in, std::uint64_t maxBytes);
    Result<Stored> receiveBytes(const std::string& bytes);
    // Takes a file already written under root/tmp (a derived file): hashes it.
    // Errors: Io.
    Result<Stored> adopt(const std::filesystem::path& tmpFile);

    // Moves a received file to its content address (no-op if already there).
    Status commit(const Stored& s);
    void discard(const Stored& s) noexcept;

    std::filesystem::path pathOf(const std::string& sha256) const;
    bool contains(const std::string& sha256) const;
    const std::filesystem::path& root() const { return root_; }

  private:
    std::filesystem::path root_;
};

}  // namespace microscape::controller
