/* config.c - the option table and its three sources (defaults, environment,
 * flags). Each default is written once, as text, and parsed like any user
 * value, so --help always prints the real default. */
#include "core/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum opt_type { T_STR, T_UINT, T_SIZE, T_BOOL, T_DOUBLE } opt_type;

typedef struct opt {
    const char *name; /* flag without "--"; env is WARPLINK_ + upper-snake */
    unsigned scope;
    opt_type type;
    size_t offset, size;
    const char *def;
    const char *help;
} opt;

#define S WL_OPT_SERVE
#define W WL_OPT_WORKER
#define A WL_OPT_ADMIN
#define F(field) offsetof(wl_config, field), sizeof(((wl_config *)0)->field)

static const opt options[] = {
    {"listen", S, T_STR, F(listen), "127.0.0.1:8080", "address to serve HTTP on (host:port)"},
    {"data-dir", S | W | A, T_STR, F(data_dir), "./data", "directory of the databases and queue"},
    {"public-url", S | A, T_STR, F(public_url), "",
     "base URL of short links (default: http://<listen>)"},
    {"threads", S, T_UINT, F(threads), "0", "event-loop threads (0 = one per core)"},
    {"offload-threads", S, T_UINT, F(offload_threads), "4",
     "threads for blocking work (writes, password hashing)"},
    {"cache-bytes", S, T_SIZE, F(cache_bytes), "64M", "read-cache budget (K/M/G suffixes)"},
    {"cache-ttl", S, T_UINT, F(cache_ttl_s), "86400", "read-cache entry lifetime, seconds"},
    {"negative-ttl", S, T_UINT, F(negative_ttl_s), "5",
     "lifetime of cached 'unknown key' answers, seconds"},
    {"max-connections", S, T_UINT, F(max_connections), "10000", "open connections at most"},
    {"header-timeout", S, T_UINT, F(header_timeout_s), "10",
     "seconds a client has to send a whole request"},
    {"idle-timeout", S, T_UINT, F(idle_timeout_s), "60", "seconds an idle keep-alive lives"},
    {"drain-timeout", S, T_UINT, F(drain_timeout_s), "10",
     "seconds to finish in-flight requests on SIGTERM"},
    {"anonymous-create", S, T_BOOL, F(anonymous_create), "on",
     "allow POST /links without credentials"},
    {"analytics", S, T_BOOL, F(analytics), "on",
     "capture clicks for analytics (off: no click queue and no worker)"},
    {"worker", S, T_BOOL, F(worker), "on",
     "run the analytics worker inside serve (--no-worker: run `warplink worker`)"},
    {"worker-slice-us", S, T_UINT, F(worker_slice_us), "250",
     "longest CPU loan of an idle loop to the in-process worker, us; a loan ends early when "
     "requests arrive (0: the worker runs as a free low-priority thread)"},
    {"log-level", S | W | A, T_STR, F(log_level), "info", "debug, info, warn or error"},
    {"queue-budget", S, T_SIZE, F(queue_budget_bytes), "1G",
     "disk budget of the click queue; beyond it clicks are dropped and counted"},
    {"queue-fsync-ms", S, T_UINT, F(queue_fsync_ms), "200",
     "group-commit interval of the click queue, ms (power-loss window)"},
    {"batch-max", S | W, T_UINT, F(batch_max), "50000",
     "events per queue read; a commit covers one read, or up to 40 while catching up"},
    {"batch-wait-ms", S | W, T_UINT, F(batch_wait_ms), "200", "analytics batch wait at most, ms"},
    {"geoip-db", S | W, T_STR, F(geoip_db), "", "GeoIP2/GeoLite2 Country .mmdb file"},
    {"jwt-ttl", S, T_UINT, F(jwt_ttl_s), "3600", "access-token lifetime, seconds"},
    {"jwt-issuer", S, T_STR, F(jwt_issuer), "warplink", "JWT iss claim"},
    {"jwt-audience", S, T_STR, F(jwt_audience), "warplink", "JWT aud claim"},
    {"anon-create-rate", S, T_DOUBLE, F(anon_create_rate), "20",
     "anonymous link creations per second per client IP"},
    {"anon-create-burst", S, T_UINT, F(anon_create_burst), "500", "burst of the above"},
    {"login-rate", S, T_DOUBLE, F(login_rate), "1",
     "failed logins allowed per second per client IP (successes are free)"},
    {"login-burst", S, T_UINT, F(login_burst), "10", "burst of the above"},
    {"apikey-rate", S, T_DOUBLE, F(apikey_rate), "50", "requests per second per API key"},
    {"apikey-burst", S, T_UINT, F(apikey_burst), "100", "burst of the above"},
    {"trusted-proxies", S, T_STR, F(trusted_proxies), "",
     "comma-separated proxy IPs whose X-Forwarded-For is believed"},
    {"user", A, T_STR, F(user), "", "the account an admin command acts on (email)"},
    {"name", A, T_STR, F(name), "", "name of a new API key"},
};

#undef S
#undef W
#undef A
#undef F

#define NOPTS (sizeof(options) / sizeof(options[0]))

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

static int parse_size(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno || *v == '-')
        return -1;
    uint64_t mult = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mult = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mult = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mult = 1ull << 30;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'B' || *end == 'b' || *end == 'i')
        end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
    if (*end || n > UINT64_MAX / mult)
        return -1;
    *out = n * mult;
    return 0;
}

static int set_value(wl_config *cfg, const opt *o, const char *v)
{
    char *field = (char *)cfg + o->offset;
    char *end;
    switch (o->type) {
    case T_STR:
        if (strlen(v) >= o->size)
            return -1;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case T_UINT: {
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (end == v || *end || errno || *v == '-' || n > 0xFFFFFFFFul)
            return -1;
        *(unsigned *)field = (unsigned)n;
        return 0;
    }
    case T_SIZE:
        return parse_size(v, (uint64_t *)field);
    case T_BOOL:
        return parse_bool(v, (bool *)field);
    case T_DOUBLE: {
        errno = 0;
        double d = strtod(v, &end);
        if (end == v || *end || errno || d < 0)
            return -1;
        *(double *)field = d;
        return 0;
    }
    }
    return -1;
}

void wl_config_defaults(wl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTS; i++)
        if (set_value(cfg, &options[i], options[i].def) != 0)
            abort(); /* a default that does not parse is a programming error */
}

static void env_name(const opt *o, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "WARPLINK_");
    for (const char *p = o->name; *p && n + 1 < cap; p++)
        out[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    out[n] = 0;
}

static const opt *find_option(const char *name, size_t len, unsigned scope)
{
    for (size_t i = 0; i < NOPTS; i++)
        if ((options[i].scope & scope) && strlen(options[i].name) == len &&
            memcmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

static wl_status apply_env(wl_config *cfg, unsigned scope, char *err, size_t errcap)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(options[i].scope & scope))
            continue;
        char name[64];
        env_name(&options[i], name, sizeof(name));
        const char *v = getenv(name);
        if (v && set_value(cfg, &options[i], v) != 0) {
            snprintf(err, errcap, "invalid value '%s' in %s", v, name);
            return WL_EINVAL;
        }
    }
    return WL_OK;
}

/* Handles one "--name[=value]" at argv[*i]; may consume argv[*i + 1]. */
static wl_status apply_flag(wl_config *cfg, unsigned scope, int argc, char **argv, int *i,
                            char *err, size_t errcap)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    const opt *o = find_option(arg, nlen, scope);
    if (!o && !eq && nlen > 3 && strncmp(arg, "no-", 3) == 0) {
        o = find_option(arg + 3, nlen - 3, scope);
        if (o && o->type == T_BOOL)
            return set_value(cfg, o, "off") == 0 ? WL_OK : WL_EINVAL;
        o = NULL;
    }
    if (!o) {
        snprintf(err, errcap, "unknown option '--%.*s' (see --help)", (int)nlen, arg);
        return WL_EINVAL;
    }
    const char *v = eq ? eq + 1 : NULL;
    bool b;
    if (!v && o->type == T_BOOL) { /* "--flag", or "--flag on|off" */
        v = "on";
        if (*i + 1 < argc && parse_bool(argv[*i + 1], &b) == 0)
            v = argv[++*i];
    }
    if (!v) {
        if (*i + 1 >= argc) {
            snprintf(err, errcap, "option '--%s' needs a value", o->name);
            return WL_EINVAL;
        }
        v = argv[++*i];
    }
    if (set_value(cfg, o, v) != 0) {
        snprintf(err, errcap, "invalid value '%s' for --%s", v, o->name);
        return WL_EINVAL;
    }
    return WL_OK;
}

wl_status wl_config_load(wl_config *cfg, unsigned scope, int argc, char **argv, int *nargs,
                         char *err, size_t errcap)
{
    wl_status st = apply_env(cfg, scope, err, errcap);
    if (st != WL_OK)
        return st;
    int kept = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (++i < argc)
                argv[kept++] = argv[i];
            break;
        }
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
            st = apply_flag(cfg, scope, argc, argv, &i, err, errcap);
            if (st != WL_OK)
                return st;
            continue;
        }
        argv[kept++] = argv[i];
    }
    *nargs = kept;
    wl_config_finish(cfg);
    return WL_OK;
}

void wl_config_print_help(FILE *f, unsigned scope)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const opt *o = &options[i];
        if (!(o->scope & scope))
            continue;
        char env[64];
        env_name(o, env, sizeof(env));
        fprintf(f, "  --%-20s %s\n  %22s [env %s, default: %s]\n", o->name, o->help, "", env,
                *o->def ? o->def : "none");
    }
}

wl_status wl_config_listen_parts(const wl_config *cfg, char *host, size_t hostcap, unsigned *port)
{
    const char *colon = strrchr(cfg->listen, ':');
    if (!colon || colon == cfg->listen)
        return WL_EINVAL;
    const char *h = cfg->listen;
    size_t hlen = (size_t)(colon - h);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (hlen == 0 || hlen >= hostcap || *end || end == colon + 1 || p > 65535)
        return WL_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    *port = (unsigned)p;
    return WL_OK;
}

void wl_config_finish(wl_config *cfg)
{
    if (cfg->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = n > 0 ? (unsigned)n : 1;
    }
    size_t n = strlen(cfg->public_url);
    while (n > 0 && cfg->public_url[n - 1] == '/')
        cfg->public_url[--n] = 0;
    if (n == 0 || cfg->public_url_derived) {
        cfg->public_url_derived = true;
        snprintf(cfg->public_url, sizeof(cfg->public_url), "http://%s", cfg->listen);
    }
}
