#include "microscape/core/chunk_memory.hpp"

#include <malloc.h>

#include "microscape/core/wire.hpp"

namespace microscape {

void keepChunkBuffers() {
    // Setting either turns off glibc's own adjustment of both.
    ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(4 * wire::kMaxChunkBytes));
    ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace microscape
