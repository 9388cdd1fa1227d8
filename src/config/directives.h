// The directive table: each directive's syntax check and where its value is stored.
#pragma once

#include "apache/includes.h"

namespace mod_tls {

extern const command_rec kDirectives[];

}  // namespace mod_tls
