// Makes Catch print reason codes by name ("BadSignature"), not as numbers.
// Include after <catch2/catch.hpp> in test files.
#pragma once

#include <string>

#include "microscape/core/result.hpp"

namespace Catch {
template <>
struct StringMaker<microscape::Errc> {
    static std::string convert(microscape::Errc code) { return std::string(microscape::errcName(code)); }
};
}  // namespace Catch
