// Force-included into the fuzz targets (clang's UBSan): APR's ring macros compute member offsets
// with APR_OFFSETOF, which in C++ is the ((T*)0)->member idiom that UBSan reports as a null
// member access. APR's header is included first, then the macro is pointed at offsetof (the
// structs involved are plain C structs, so offsetof is well-defined).
#pragma once

#include <stddef.h>

#include <apr_general.h>

#undef APR_OFFSETOF
#define APR_OFFSETOF(s_type, field) offsetof(s_type, field)
