#include "freed_blocks.h"

#include <cstdlib>
#include <new>

namespace {

size_t g_size = 0;              // the size of block to watch (0: none)
const void *g_block = nullptr;  // the block of that size, once handed out
std::vector<char> *g_seen = nullptr;

}  // namespace

void freed_blocks::watch_size(size_t size, std::vector<char> *seen) {
    g_seen = seen;
    g_block = nullptr;
    g_size = size;
}

void freed_blocks::unwatch() {
    g_size = 0;
    g_block = nullptr;
    g_seen = nullptr;
}

void *operator new[](std::size_t size) {
    void *p = std::malloc(size != 0 ? size : 1);
    if (p == nullptr) throw std::bad_alloc();
    if (g_size != 0 && size == g_size && g_block == nullptr) g_block = p;
    return p;
}

void operator delete[](void *p) noexcept {
    if (p != nullptr && p == g_block) {
        const char *bytes = static_cast<const char *>(p);
        g_seen->assign(bytes, bytes + g_size);
        g_block = nullptr;
        g_size = 0;
    }
    std::free(p);
}

void operator delete[](void *p, std::size_t) noexcept { operator delete[](p); }
