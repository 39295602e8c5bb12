// Heap settings for processes that move media chunks.
#pragma once

namespace microscape {

// Media chunks (up to wire::kMaxChunkBytes) are allocated and freed at the
// pace of the network: by libzmq for every CHUNK a player receives, by the hub
// for every sealed one it sends. By default glibc maps blocks that large on
// their own, or trims them off the heap as they are freed, and the next one is
// faulted in again page by page. This keeps them in the heap for reuse (at the
// cost of holding up to 64 MiB freed). Call once, first thing in main().
void keepChunkBuffers();

}  // namespace microscape
