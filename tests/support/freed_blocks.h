// What a block of memory held when operator delete[] freed it. freed_blocks.cpp replaces the
// array forms of operator new/delete for the whole test binary (with malloc/free, which ASan
// still checks). It lives in a file of its own, and finds the block by its size, so that the
// code under test neither sees that this delete[] reads the block nor hands its address to
// anything: the compiler treats the block exactly as it does in the module.
#pragma once

#include <cstddef>
#include <vector>

namespace freed_blocks {

// The next block of exactly `size` bytes that operator new[] hands out is watched: when
// operator delete[] frees it, its bytes are copied to `seen`.
void watch_size(size_t size, std::vector<char> *seen);
void unwatch();

}  // namespace freed_blocks
