/* tls_bridge.h — the C ABI of the Rust bridge over rustls 0.23.
 *
 * Sans-I/O: the bridge takes bytes and gives bytes; it opens no file or socket and starts no thread.
 * Every handle is opaque and owned by the caller, who frees it with the matching *_free function
 * (free functions accept NULL). Every function is null-safe: a NULL handle or out-pointer returns
 * TLSB_ERR_NULL, never crashes. No Rust panic crosses this boundary: a panic is caught and reported
 * as TLSB_ERR_PANIC, and the handle it happened on is poisoned (every later call fails).
 *
 * Pointers returned through out-parameters (names, ALPN, DER) point into the handle and stay valid
 * until the next call that changes that handle (any non-const function) or until it is freed.
 * Callbacks (the send_tls sink) must not call back into the handle they were given for: such a
 * call is refused with TLSB_ERR_INVALID (value queries return their default).
 *
 * Only src/rustls/ includes this header.
 */
#ifndef TLS_BRIDGE_H
#define TLS_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- results ----------------------------------------------------------------------------- */
typedef enum tlsb_result {
    TLSB_OK = 0,
    TLSB_HELLO_READY = 1,  /* the ClientHello is in: inspect it, then tlsb_conn_select_config/reject */
    TLSB_WOULD_BLOCK = 2,  /* no plaintext available now: feed more TLS bytes */
    TLSB_CLOSED = 3,       /* the peer sent close_notify: no more plaintext will come */

    TLSB_ERR_NULL = 100,       /* a required pointer argument was NULL */
    TLSB_ERR_INVALID = 101,    /* argument out of range, or call not valid in this state */
    TLSB_ERR_PANIC = 102,      /* a panic was caught; the handle is poisoned */
    TLSB_ERR_TLS = 103,        /* protocol error: the connection is dead; flush tlsb_conn_send_tls
                                  (it may hold an alert), then close. error.alert_* say which alert */
    TLSB_ERR_PEM = 104,        /* no/invalid PEM data, or an encrypted key */
    TLSB_ERR_KEY = 105,        /* unsupported or malformed private key (type, size) */
    TLSB_ERR_KEY_MISMATCH = 106, /* the private key does not belong to the certificate */
    TLSB_ERR_CONFIG = 107,     /* the config cannot be built (e.g. no suite left for any version) */
    TLSB_ERR_BUFFER = 108,     /* an output buffer is too small */
    TLSB_ERR_IO = 109          /* the caller's transport failed (a send_tls sink refused) */
} tlsb_result;

/* Sent/received alert fields hold this when no alert applies. */
#define TLSB_NO_ALERT 0xFFFFu

/* Filled by functions taking a tlsb_error* (which may be NULL). On TLSB_OK it is left untouched.
 * message is NUL-terminated, truncated to fit. */
typedef struct tlsb_error {
    uint32_t code;            /* the tlsb_result returned */
    uint16_t alert_sent;      /* TLS AlertDescription we sent/queued, or TLSB_NO_ALERT */
    uint16_t alert_received;  /* TLS AlertDescription the peer sent, or TLSB_NO_ALERT */
    char message[256];
} tlsb_error;

/* Static, NUL-terminated descriptions; never NULL ("unknown" for unknown values). */
const char *tlsb_result_name(uint32_t result);          /* e.g. "TLSB_ERR_TLS" */
const char *tlsb_alert_name(uint16_t alert);            /* e.g. "unrecognized_name" */
const char *tlsb_cipher_suite_name(uint16_t suite);     /* IANA name, e.g. "TLS_AES_128_GCM_SHA256" */
const char *tlsb_protocol_version_name(uint16_t version); /* "TLSv1.2", "TLSv1.3" */

/* "rustls/<version>" of the rustls linked, e.g. "rustls/0.23.26" — static. */
const char *tlsb_rustls_version(void);

/* IANA ids of the cipher suites rustls implements, in rustls's default preference order.
 * *out points to static data. */
tlsb_result tlsb_supported_cipher_suites(const uint16_t **out, size_t *count);

/* IANA ids of the key exchange groups the bridge offers, in the default preference order:
 * X25519MLKEM768 (0x11EC, post-quantum hybrid), x25519 (0x001D), secp256r1 (0x0017),
 * secp384r1 (0x0018). *out points to static data. */
tlsb_result tlsb_supported_kx_groups(const uint16_t **out, size_t *count);
/* The IANA name of a group ("X25519MLKEM768", "x25519", ...); "unknown" otherwise. Static. */
const char *tlsb_kx_group_name(uint16_t group);

/* Protocol version ids. */
#define TLSB_TLS12 0x0303u
#define TLSB_TLS13 0x0304u

/* ---- certified keys ---------------------------------------------------------------------- */
typedef struct tlsb_certified_key tlsb_certified_key;

/* Parses a PEM certificate chain (end-entity first, then intermediates) and a PEM private key
 * (PKCS#8, PKCS#1 RSA or SEC1 EC; RSA 2048-4096 bits, ECDSA P-256/P-384, Ed25519). key_pem may be
 * the same bytes as cert_pem (key inside the certificate file). Checks that the key matches the
 * end-entity certificate (by signing and verifying a probe). Encrypted keys: TLSB_ERR_PEM with a
 * message saying so. */
tlsb_result tlsb_certified_key_new(const uint8_t *cert_pem, size_t cert_len,
                                   const uint8_t *key_pem, size_t key_len,
                                   tlsb_certified_key **out, tlsb_error *err);
void tlsb_certified_key_free(tlsb_certified_key *key);
/* Number of certificates in the chain (end-entity included), and one as DER. */
size_t tlsb_certified_key_chain_len(const tlsb_certified_key *key);
tlsb_result tlsb_certified_key_chain_der(const tlsb_certified_key *key, size_t index,
                                         const uint8_t **der, size_t *len);
/* "RSA", "ECDSA" or "Ed25519" — static. */
const char *tlsb_certified_key_algorithm(const tlsb_certified_key *key);

/* ---- OCSP stapling (per certified key) ---------------------------------------------------- */
#define TLSB_OCSP_ID_LEN 32
/* The id of the key's certificate for OCSP (SHA-256 of the end-entity DER) into id[0..32). */
tlsb_result tlsb_certified_key_ocsp_id(const tlsb_certified_key *key, uint8_t *id, size_t id_cap);
/* The end-entity certificate and its issuer (the next in the chain, if there is one) as
 * NUL-terminated PEM, for an OCSP client to build requests; valid while the key lives. NULL for
 * a NULL key. A request needs the issuer: see tlsb_certified_key_chain_len. */
const char *tlsb_certified_key_ocsp_pem(const tlsb_certified_key *key);
/* The OCSP response (DER) to staple from now on in handshakes that use this key, in every
 * server config holding it; len 0 staples nothing. Thread-safe; unchanged bytes cost no
 * allocation. */
tlsb_result tlsb_certified_key_set_ocsp(const tlsb_certified_key *key, const uint8_t *der,
                                        size_t len);
/* Length of the response stapled now (0: none). */
size_t tlsb_certified_key_ocsp_len(const tlsb_certified_key *key);
/* ---- client certificate verification (TLSClientCA / TLSClientCertificate / TLSClientCRL) -- */
typedef struct tlsb_client_verifier tlsb_client_verifier;

#define TLSB_CLIENT_AUTH_OPTIONAL 1u  /* ask; a client without a certificate proceeds */
#define TLSB_CLIENT_AUTH_REQUIRED 2u  /* a client without a certificate fails the handshake */

/* Trust anchors for client certificates from a PEM file's bytes (at least one certificate).
 * A presented certificate must chain to one of them and be within its validity period; otherwise
 * the handshake fails (error message names the reason; alert_sent says which alert the client
 * got: unknown_ca / certificate_expired / certificate_revoked / certificate_unknown (CRL out of
 * date) / bad_certificate, access_denied for a bad CertificateVerify, certificate_required for
 * none). rustls-webpki checks the chain and the CRLs. */
tlsb_result tlsb_client_verifier_new(uint32_t mode, const uint8_t *ca_pem, size_t ca_len,
                                     tlsb_client_verifier **out, tlsb_error *err);
/* Adds the CRLs of one file (PEM "X509 CRL" blocks or one DER CRL). Each CRL's signature must
 * verify with the TLSClientCA certificate named as its issuer, and `now` (seconds since the epoch)
 * must not be past its nextUpdate: else TLSB_ERR_CONFIG and nothing of the file is added.
 * *count = CRLs added. A CRL that passes its nextUpdate later, while the server runs, makes every
 * certificate of that issuer be refused (certificate_unknown) until a fresh CRL is loaded. */
tlsb_result tlsb_client_verifier_add_crls(tlsb_client_verifier *verifier, const uint8_t *data,
                                          size_t len, int64_t now, size_t *count,
                                          tlsb_error *err);
void tlsb_client_verifier_free(tlsb_client_verifier *verifier);

/* ---- server configs ---------------------------------------------------------------------- */
typedef struct tlsb_server_config tlsb_server_config;

typedef struct tlsb_server_config_params {
    const uint16_t *versions;  size_t versions_len;  /* TLSB_TLS12/TLSB_TLS13; empty = both */
    const uint16_t *suites;    size_t suites_len;    /* IANA ids in preference order; empty = default */
    const uint16_t *groups;    size_t groups_len;    /* key exchange groups, IANA ids in preference
                                                        order; empty = all, default order */
    const tlsb_certified_key *const *keys; size_t keys_len; /* >= 1, in configured order; the first
                                  whose key can sign a scheme the client offers (and, for TLS 1.2,
                                  suits an offered suite) is used. Keys are shared, not consumed. */
    int honor_client_order;    /* nonzero: the client's suite order wins */
    /* ALPN protocols a connection on this config may be told to select (tlsb_conn_select_config's
     * alpn must be one of these, or empty). Each is a length-prefixed-free plain byte string. */
    const uint8_t *const *alpn; const size_t *alpn_lens; size_t alpn_len;
    /* NULL: no client certificate is asked for. Else its settings are copied into the config
     * (the verifier may be freed afterwards). */
    const tlsb_client_verifier *client_verifier;
    /* Sessions: NULL = rustls's in-memory cache of this process (or none with no_session_cache);
     * else this external store (TLS 1.2 session IDs, TLS 1.3 stateful tickets). Copied. */
    const struct tlsb_session_store *session_store;
    int no_session_cache;                  /* nonzero (and session_store NULL): no cache at all */
    const struct tlsb_ticket_keys *ticket_keys; /* NULL: no tickets; else stateless tickets
                                  (TLS 1.2 and 1.3) with these keys. Shared, not consumed. */
    /* The host's identity (address, names, certificates, client-certificate policy): sessions in
     * session_store and tickets resume only on configs with the same bytes. Copied. */
    const uint8_t *session_scope;
    size_t session_scope_len;
} tlsb_server_config_params;

/* ---- session resumption ------------------------------------------------------------------ */
/* An external session store: callbacks the bridge calls from any thread, during handshakes, with
 * opaque keys and values (sessions hold secrets: store them as such). They must be thread-safe and
 * must not unwind; `user` must outlive every config built with it. Values larger than
 * TLSB_SESSION_VALUE_MAX are not stored. */
#define TLSB_SESSION_VALUE_MAX 65536
typedef struct tlsb_session_store {
    void *user;
    /* Stores value under key; nonzero if stored. */
    int (*put)(void *user, const uint8_t *key, size_t key_len, const uint8_t *value,
               size_t value_len);
    /* Copies the value under key into buf (cap bytes), sets *len and returns nonzero; 0 if not
     * found (or unavailable). remove nonzero: the entry is used once (delete it). */
    int (*get)(void *user, const uint8_t *key, size_t key_len, int remove, uint8_t *buf,
               size_t cap, size_t *len);
} tlsb_session_store;

/* Session ticket keys from a key file's text: one base64 key of 32 bytes per line, empty and '#'
 * lines ignored; the first key encrypts, all decrypt. Tickets older than lifetime_secs are
 * refused. Errors (TLSB_ERR_CONFIG) name the line, never key material. */
typedef struct tlsb_ticket_keys tlsb_ticket_keys;
tlsb_result tlsb_ticket_keys_new(const uint8_t *text, size_t len, uint32_t lifetime_secs,
                                 tlsb_ticket_keys **out, tlsb_error *err);
size_t tlsb_ticket_keys_count(const tlsb_ticket_keys *keys);
void tlsb_ticket_keys_free(tlsb_ticket_keys *keys);

/* Builds an immutable, thread-safe server config. Built once at startup and shared by all
 * connections (and threads); connections keep it alive while they use it. */
tlsb_result tlsb_server_config_new(const tlsb_server_config_params *params,
                                   tlsb_server_config **out, tlsb_error *err);
void tlsb_server_config_free(tlsb_server_config *config);

/* ---- connections ------------------------------------------------------------------------- */
typedef struct tlsb_conn tlsb_conn;

/* A server connection that first waits for the ClientHello (no config chosen yet). */
tlsb_result tlsb_conn_new_server(tlsb_conn **out);
void tlsb_conn_free(tlsb_conn *conn);

/* Feeds TLS bytes received from the peer. *consumed <= len; the bridge may take fewer bytes than
 * given when its buffer is full: process, then feed the rest. An empty feed (len 0) means the peer
 * closed the transport (EOF). Then call tlsb_conn_process. */
tlsb_result tlsb_conn_read_tls(tlsb_conn *conn, const uint8_t *buf, size_t len, size_t *consumed,
                               tlsb_error *err);

/* Processes what was fed. Returns TLSB_OK (nothing more to do until more bytes arrive; check
 * wants_write), TLSB_HELLO_READY (once, when the ClientHello is complete), or TLSB_ERR_TLS.
 * After an error, flush tlsb_conn_send_tls (it may hold the alert) and close. */
tlsb_result tlsb_conn_process(tlsb_conn *conn, tlsb_error *err);

/* The ClientHello, valid between TLSB_HELLO_READY and select_config/reject. Absent SNI: *len = 0.
 * SNI is the name as sent (rustls has validated it as a DNS name; IP literals are not SNI). */
tlsb_result tlsb_conn_hello_sni(const tlsb_conn *conn, const uint8_t **name, size_t *len);
size_t tlsb_conn_hello_alpn_count(const tlsb_conn *conn);
tlsb_result tlsb_conn_hello_alpn(const tlsb_conn *conn, size_t index, const uint8_t **proto,
                                 size_t *len);
tlsb_result tlsb_conn_hello_signature_schemes(const tlsb_conn *conn, const uint16_t **schemes,
                                              size_t *count);
tlsb_result tlsb_conn_hello_cipher_suites(const tlsb_conn *conn, const uint16_t **suites,
                                          size_t *count);

/* Continues the handshake with the config chosen for this ClientHello. alpn (may be NULL/0 for
 * none) is the protocol to agree on; it must be one of config's alpn list. The conn holds its own
 * reference to config. On failure (no common version/suite/certificate), returns TLSB_ERR_TLS with
 * the alert queued for send_tls. */
tlsb_result tlsb_conn_select_config(tlsb_conn *conn, const tlsb_server_config *config,
                                    const uint8_t *alpn, size_t alpn_len, tlsb_error *err);

/* Refuses the ClientHello with a fatal alert (e.g. 112 unrecognized_name, 120
 * no_application_protocol); the alert record is queued for send_tls. The conn is dead after. */
tlsb_result tlsb_conn_reject(tlsb_conn *conn, uint16_t alert, tlsb_error *err);

/* Whether TLS bytes are waiting to be sent. */
int tlsb_conn_wants_write(const tlsb_conn *conn);

/* Sending them: tlsb_conn_send_tls lends the queued records to sink, without copying, in batches
 * of whole records (at most TLSB_SEND_BATCH_MAX slices each). A batch points into the connection and is valid only
 * during the call: the sink sends or copies all of it and returns nonzero, or returns 0 to stop
 * (then TLSB_ERR_IO, and the caller closes the connection). The sink must not call back into
 * this connection (such a call gets TLSB_ERR_INVALID) and must not unwind or longjmp. On
 * TLSB_OK, *sent = bytes the sink accepted. */
#define TLSB_SEND_BATCH_MAX 64
typedef struct tlsb_slice {
    const uint8_t *data;
    size_t len;
} tlsb_slice;
typedef int (*tlsb_tls_sink)(void *ctx, const tlsb_slice *batch, size_t count);
tlsb_result tlsb_conn_send_tls(tlsb_conn *conn, tlsb_tls_sink sink, void *ctx, size_t *sent,
                               tlsb_error *err);

/* Nonzero while the handshake is not complete (including before select_config). */
int tlsb_conn_is_handshaking(const tlsb_conn *conn);

/* Plaintext from the peer. TLSB_OK with *n > 0; TLSB_WOULD_BLOCK when none is buffered;
 * TLSB_CLOSED after the peer's close_notify once all data was read; TLSB_ERR_TLS if the transport
 * ended (EOF fed) without close_notify. */
tlsb_result tlsb_conn_read_plain(tlsb_conn *conn, uint8_t *buf, size_t cap, size_t *n,
                                 tlsb_error *err);

/* Plaintext to the peer (encrypted into records, then sent with send_tls). Accepts all of len
 * (buffered before the handshake completes). *n = bytes accepted. */
tlsb_result tlsb_conn_write_plain(tlsb_conn *conn, const uint8_t *buf, size_t len, size_t *n,
                                  tlsb_error *err);

/* Queues close_notify (once; later calls do nothing). */
tlsb_result tlsb_conn_send_close_notify(tlsb_conn *conn);

/* Negotiated parameters; 0 / empty until known. */
uint16_t tlsb_conn_protocol_version(const tlsb_conn *conn);
uint16_t tlsb_conn_cipher_suite(const tlsb_conn *conn);
tlsb_result tlsb_conn_alpn(const tlsb_conn *conn, const uint8_t **proto, size_t *len);
tlsb_result tlsb_conn_sni(const tlsb_conn *conn, const uint8_t **name, size_t *len);
/* Peer certificates as DER (end-entity first); count 0 when none. */
size_t tlsb_conn_peer_cert_count(const tlsb_conn *conn);
tlsb_result tlsb_conn_peer_cert(const tlsb_conn *conn, size_t index, const uint8_t **der,
                                size_t *len);

/* ---- what the handshake chose (for SSL_SESSION_RESUMED, SSL_SERVER_*) ---------------------- */

/* Nonzero when the handshake resumed a stored session (TLS 1.2 session ID or ticket, TLS 1.3
 * PSK); 0 for a full handshake, before it is known, and for NULL (rustls's handshake kind). */
int tlsb_conn_is_resumed(const tlsb_conn *conn);

/* The IANA id of the negotiated key exchange group (name: tlsb_kx_group_name); 0 before it is
 * known and for a TLS 1.2 resumption, which makes no new key exchange. */
uint16_t tlsb_conn_kx_group(const tlsb_conn *conn);

/* The certificate chain sent to the client (end-entity first), i.e. that of the configured key
 * the resolver chose; count 0 before it is chosen. */
size_t tlsb_conn_server_cert_count(const tlsb_conn *conn);
tlsb_result tlsb_conn_server_cert(const tlsb_conn *conn, size_t index, const uint8_t **der,
                                  size_t *len);

/* Key bits of a suite's bulk cipher (AES-128: 128; AES-256, ChaCha20: 256); 0 if unknown. The
 * suites rustls implements use the whole key: SSL_CIPHER_USEKEYSIZE = SSL_CIPHER_ALGKEYSIZE. */
uint16_t tlsb_cipher_suite_key_bits(uint16_t suite);

/* ---- certificate fields (SSL_{CLIENT,SERVER}_* variables) --------------------------------- */
typedef struct tlsb_cert_info tlsb_cert_info;

/* Parses one DER certificate (X.509 v1-v3) and prepares its fields as the texts mod_ssl shows.
 * Malformed DER: TLSB_ERR_INVALID ("malformed certificate: ..."). The DER is not kept. */
tlsb_result tlsb_cert_info_new(const uint8_t *der, size_t len, tlsb_cert_info **out,
                               tlsb_error *err);
void tlsb_cert_info_free(tlsb_cert_info *info);

/* Texts returned by the accessors below are not NUL-terminated; they stay valid while the handle
 * lives (it never changes after tlsb_cert_info_new). A field that cannot be printed (e.g. an
 * invalid time) is empty. */
typedef enum tlsb_cert_field {
    TLSB_CERT_VERSION = 0,     /* M_VERSION: "3" */
    TLSB_CERT_SERIAL = 1,      /* M_SERIAL: uppercase hex of the magnitude, "0FAB12"; "-" if < 0 */
    TLSB_CERT_SUBJECT_DN = 2,  /* S_DN, RFC 2253: "CN=www.example.org,O=Example\, Inc.,C=DE" */
    TLSB_CERT_ISSUER_DN = 3,   /* I_DN, the same format */
    TLSB_CERT_NOT_BEFORE = 4,  /* V_START: "Nov  5 15:36:59 2026 GMT" */
    TLSB_CERT_NOT_AFTER = 5,   /* V_END, the same format */
    TLSB_CERT_SIG_ALG = 6,     /* A_SIG: "ecdsa-with-SHA256", "sha256WithRSAEncryption", "ED25519",
                                  "UNKNOWN" */
    TLSB_CERT_KEY_ALG = 7,     /* A_KEY: "id-ecPublicKey", "rsaEncryption", "ED25519", "UNKNOWN" */
    TLSB_CERT_PEM = 8          /* CERT: "-----BEGIN CERTIFICATE-----\n...-----END CERTIFICATE-----\n" */
} tlsb_cert_field;
tlsb_result tlsb_cert_info_field(const tlsb_cert_info *info, uint32_t field, const uint8_t **text,
                                 size_t *len);

/* The attributes of the subject or issuer DN in certificate (ASN.1) order, each with mod_ssl's
 * name for it (static, NUL-terminated: "C", "ST", "L", "O", "OU", "CN", "T", "I", "G", "S", "D",
 * "UID", "Email"; "" for attributes mod_ssl has no variable for) and its value as mod_ssl's
 * SSL_*_S_DN_<name> shows it (UTF-8; control characters as \XX, backslash doubled). */
#define TLSB_NAME_SUBJECT 0u
#define TLSB_NAME_ISSUER 1u
size_t tlsb_cert_info_dn_count(const tlsb_cert_info *info, uint32_t name);
tlsb_result tlsb_cert_info_dn_entry(const tlsb_cert_info *info, uint32_t name, size_t index,
                                    const char **tag, const uint8_t **value, size_t *len);

/* subjectAltName entries of one type, in certificate order (SAN_DNS_n, SAN_Email_n). */
#define TLSB_SAN_EMAIL 1u
#define TLSB_SAN_DNS 2u
size_t tlsb_cert_info_san_count(const tlsb_cert_info *info, uint32_t type);
tlsb_result tlsb_cert_info_san(const tlsb_cert_info *info, uint32_t type, size_t index,
                               const uint8_t **value, size_t *len);

/* V_REMAIN: whole days from `now` (seconds since the epoch) to notAfter, 0 once expired (as
 * Debian's mod_ssl 2.4.71 shows it). 0 for NULL. */
int64_t tlsb_cert_info_days_remaining(const tlsb_cert_info *info, int64_t now);

/* ---- client configs and connections (TLS to backends for mod_proxy) ----------------------- */
typedef struct tlsb_client_config tlsb_client_config;

typedef struct tlsb_client_config_params {
    const uint16_t *versions;  size_t versions_len;  /* TLSB_TLS12/TLSB_TLS13; empty = both */
    const uint16_t *suites;    size_t suites_len;    /* IANA ids in preference order; empty = default */
    const uint16_t *groups;    size_t groups_len;    /* key exchange groups, IANA ids in preference
                                                        order; empty = all, default order */
    const uint8_t *ca_pem;     size_t ca_len;        /* PEM trust anchors (CERTIFICATE blocks); at
                                  least one must parse, else TLSB_ERR_PEM */
    const tlsb_certified_key *const *keys; size_t keys_len; /* client certificates (may be empty):
                                  the first whose key can sign a scheme the server accepts is sent */
} tlsb_client_config_params;

/* Builds an immutable, thread-safe client config: backends are verified against ca_pem by host
 * name (rustls's WebPkiVerifier). Sessions are cached in memory for resumption. */
tlsb_result tlsb_client_config_new(const tlsb_client_config_params *params,
                                   tlsb_client_config **out, tlsb_error *err);
void tlsb_client_config_free(tlsb_client_config *config);
/* How many trust anchors the config's CA PEM gave. */
size_t tlsb_client_config_anchor_count(const tlsb_client_config *config);

/* A client connection on config (the conn holds its own reference). It waits for
 * tlsb_conn_start_client; the other tlsb_conn_* functions then work as for a server connection
 * (TLSB_HELLO_READY never occurs). */
tlsb_result tlsb_conn_new_client(const tlsb_client_config *config, tlsb_conn **out);
/* Starts the handshake: server_name is verified against the certificate and sent as SNI;
 * alpn_list (may be empty) is a ',' or ' ' separated list of protocols to offer ("h2").
 * An IP literal as server_name is verified against the certificate's IP address names and sent
 * as no SNI (RFC 6066 allows only host names there).
 * The ClientHello is then waiting in send_tls. Only once per connection. */
tlsb_result tlsb_conn_start_client(tlsb_conn *conn, const uint8_t *server_name, size_t name_len,
                                   const uint8_t *alpn_list, size_t alpn_len, tlsb_error *err);
/* Nonzero for a client connection. */
int tlsb_conn_is_client(const tlsb_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* TLS_BRIDGE_H */
