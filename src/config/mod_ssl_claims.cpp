#include "config/mod_ssl_claims.h"

#include <strings.h>

namespace mod_tls {

namespace {

bool is(const ap_directive_t *d, const char *name) {
    return d->directive != nullptr && strcasecmp(d->directive, name) == 0;
}

bool enables_mod_ssl(const ap_directive_t *d) {
    if (!is(d, "SSLEngine") || d->args == nullptr) return false;
    return strncasecmp(d->args, "on", 2) == 0 || strncasecmp(d->args, "optional", 8) == 0;
}

// Containers that do not start another server's scope (<IfModule>, <IfDefine>, <If...>).
bool is_conditional(const ap_directive_t *d) {
    return is(d, "<IfModule") || is(d, "<IfDefine") || is(d, "<IfVersion") ||
           is(d, "<IfFile") || is(d, "<IfDirective") || is(d, "<IfSection");
}

// "SSLEngine on" among these directives, looking into conditional containers only.
bool section_enables_mod_ssl(const ap_directive_t *first) {
    for (const ap_directive_t *d = first; d != nullptr; d = d->next) {
        if (enables_mod_ssl(d)) return true;
        if (is_conditional(d) && section_enables_mod_ssl(d->first_child)) return true;
    }
    return false;
}

// The <VirtualHost> node defined at file:line, searching through conditional containers.
const ap_directive_t *find_vhost(const ap_directive_t *first, const char *file, unsigned line) {
    for (const ap_directive_t *d = first; d != nullptr; d = d->next) {
        if (is(d, "<VirtualHost") && d->line_num >= 0 && static_cast<unsigned>(d->line_num) == line && d->filename != nullptr &&
            file != nullptr && strcmp(d->filename, file) == 0)
            return d;
        if (is_conditional(d)) {
            if (const ap_directive_t *found = find_vhost(d->first_child, file, line)) return found;
        }
    }
    return nullptr;
}

}  // namespace

bool mod_ssl_enabled_for(const server_rec *s, const server_rec *main_server) {
    if (s == main_server) return section_enables_mod_ssl(ap_conftree);
    const ap_directive_t *vhost = find_vhost(ap_conftree, s->defn_name, s->defn_line_number);
    return vhost != nullptr && section_enables_mod_ssl(vhost->first_child);
}

}  // namespace mod_tls
