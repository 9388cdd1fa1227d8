// TLSSessionTicketKeys file: stateless session tickets whose keys every server with the same file
// shares, so TLS 1.2 and 1.3 sessions resume across a cluster without any cache. The file is read
// and checked when the directive is read (so every error names its line); rotation is editing the
// file and a graceful restart (docs/howto-session-resumption.md).
#pragma once

#include "apache/includes.h"

namespace mod_tls {

// TLSSessionTicketKeys file — main server only.
const char *set_session_ticket_keys(cmd_parms *cmd, void *, const char *arg);

}  // namespace mod_tls
