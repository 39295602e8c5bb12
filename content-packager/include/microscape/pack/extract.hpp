// Verify-then-write extraction of a bundle file into a directory.
#pragma once

#include <string>

#include "microscape/core/bundle.hpp"

namespace microscape::pack {

// Verifies the bundle completely; only then creates DIR (if needed) and writes
// DIR/manifest.json, DIR/manifest.sig and DIR/media/<sha256>. The second pass
// hashes again while writing (the file could change between passes) and removes
// everything it wrote if anything fails. If the first pass fails nothing at all
// is written. Errors: those of bundle::verify, Io.
Result<bundle::Verified> extractBundle(const std::string& bundlePath, const std::string& dir,
                                       const bundle::VerifyOptions& options);

}  // namespace microscape::pack
